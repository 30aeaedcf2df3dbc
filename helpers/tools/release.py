"""``python -m helpers release X.Y.Z`` (or ``make release VERSION=X.Y.Z``): cut a release of the course.

A release sets the package version (the one place the ref lives), refreshes every
notebook's badges and setup cell to the new tag ``vX.Y.Z``, and every link to the
repository at a tag in the README and the docs (the lessons table's badges), re-executes
the notebooks so their outputs show the released package, writes the student edition
from them (its badges open the new tag), commits, and tags the commit. It refuses to
start with uncommitted changes, so the tag holds exactly what was tested.

All of it happens in a temporary git worktree of the current commit. Only a
finished release reaches the checkout (a fast-forward to the release commit,
then the tag): a notebook that fails, or a release that is killed, leaves the
checkout as it was, and the release can simply be run again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from helpers.course.facts import repository_slug
from helpers.safe_files import write_atomically
from helpers.tools.executor import refresh_generated_cells, write_as_jupyterlab_saves

VERSION_PATTERN = re.compile(r"\d+\.\d+\.\d+")
VERSION_LINE = re.compile(r'^__version__ = "[^"]*"$', re.MULTILINE)
PINNED_LINK = re.compile(rf"({re.escape(repository_slug())}(?:/(?:blob|tree|raw)/|@))v\d+\.\d+\.\d+\b")
"""A link to the repository at a release tag: ``course/blob/v0.1.0/...`` (badges) or ``course@v0.1.0`` (pip)."""
PINNED_DOCUMENTS = ("README.md", "CONTRIBUTING.md", "docs/**/*.md")
"""Where prose pins the release: the lessons table's badges, install lines, the guides."""


class ReleaseError(Exception):
    """A release that must not go ahead; the message says why and what to do."""


class NotebooksFailedError(ReleaseError):
    """A notebook failed while the release re-executed them; the checkout was left as it was."""


def git(root: Path, *arguments: str) -> str:
    """Run git in ``root``; return what it printed."""
    return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, text=True,
                          check=True).stdout


def check_can_release(root: Path, version: str) -> None:
    """Raise :class:`ReleaseError` unless ``version`` is X.Y.Z, new, and the checkout has no changes."""
    if not VERSION_PATTERN.fullmatch(version):
        raise ReleaseError(f"{version!r} is not a version like 0.2.0 (three numbers).")
    if git(root, "status", "--porcelain"):
        raise ReleaseError("the checkout has uncommitted changes; commit or stash them first, "
                           "so the release tag holds what you tested.")
    if git(root, "tag", "--list", f"v{version}"):
        raise ReleaseError(f"the tag v{version} exists already; choose a new version.")


def set_version(root: Path, version: str) -> None:
    """Write ``version`` into ``helpers/__init__.py``, the one place the course's ref comes from."""
    init = root / "helpers" / "__init__.py"
    text, count = VERSION_LINE.subn(f'__version__ = "{version}"', init.read_text())
    if count != 1:
        raise ReleaseError(f"{init} has no single line `__version__ = \"...\"` to change.")
    write_atomically(init, text)


def refresh_notebooks(root: Path, ref: str) -> list[Path]:
    """Point every notebook's badges and setup cell at ``ref``; return the notebooks."""
    paths = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        refresh_generated_cells(notebook, path.name, ref)
        write_as_jupyterlab_saves(notebook, path)
    return paths


def pin_links(text: str, ref: str) -> str:
    """Return ``text`` with every link to the repository at a release tag pointing at ``ref`` instead.

    Example:
        >>> pin_links("(https://colab.research.google.com/github/runnable-pytorch-cheatsheet/course/blob/v0.1.0/"
        ...           "student/00_start_here.ipynb) and pip install git+https://github.com/"
        ...           "runnable-pytorch-cheatsheet/course@v0.1.0", "v0.2.0").count("v0.2.0")
        2
    """
    return PINNED_LINK.sub(rf"\g<1>{ref}", text)


def refresh_documents(root: Path, ref: str) -> list[Path]:
    """Point the links at a release tag in the README and the docs at ``ref``; return the files that changed."""
    changed = []
    for pattern in PINNED_DOCUMENTS:
        for path in sorted(root.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            pinned = pin_links(text, ref)
            if pinned != text:
                write_atomically(path, pinned)
                changed.append(path)
    return changed


def execute_notebooks(root: Path) -> None:
    """Re-execute every notebook, then write the student edition, in a new Python that imports the new version.

    Both run as ``python -m helpers`` in ``root``, so they use the package (and its ref) in ``root``.
    """
    finished = subprocess.run([sys.executable, "-m", "helpers", "execute"], cwd=root)
    if finished.returncode != 0:
        raise NotebooksFailedError(f"re-executing the notebooks failed (exit {finished.returncode}; the notebook "
                                   "and cell are named above). Nothing changed in your checkout: fix the notebook, "
                                   "commit, and run the release again.")
    edition = subprocess.run([sys.executable, "-m", "helpers", "student-edition", "--out", "student"], cwd=root)
    if edition.returncode != 0:
        raise ReleaseError(f"writing the student edition failed (exit {edition.returncode}, reason above). Nothing "
                           "changed in your checkout.")


def release(version: str, root: Path, execute: Callable[[Path], None] = execute_notebooks) -> str:
    """Cut release ``version`` of the checkout at ``root``; return the new tag.

    The version, the notebooks and their outputs are made in a temporary worktree;
    the checkout moves to the release commit only once all of it succeeded.

    Example:
        >>> release("0.2.0", Path("."))  # doctest: +SKIP
        'v0.2.0'
    """
    check_can_release(root, version)
    tag = f"v{version}"
    git(root, "worktree", "prune")  # forgets the worktree of a release that was killed
    work = Path(tempfile.mkdtemp(prefix=f"release-{tag}-")) / "checkout"
    git(root, "worktree", "add", "--quiet", "--detach", str(work), "HEAD")
    try:
        set_version(work, version)
        refresh_notebooks(work, tag)
        refresh_documents(work, tag)
        execute(work)
        if (work / "student").is_dir():
            git(work, "add", "--", "student")  # a notebook new in this release has a new student notebook
        git(work, "commit", "--quiet", "--all", "--message", f"Release {tag}")
        commit = git(work, "rev-parse", "HEAD").strip()
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(work)], capture_output=True)
        shutil.rmtree(work.parent, ignore_errors=True)
    try:
        git(root, "merge", "--quiet", "--ff-only", commit)
    except subprocess.CalledProcessError as error:
        raise ReleaseError(f"the checkout moved on while the release ran ({error.stderr.strip()}); the release "
                           f"commit {commit[:12]} was not applied. Run the release again.") from None
    git(root, "tag", "--annotate", tag, "--message", f"Release {tag}")
    return tag
