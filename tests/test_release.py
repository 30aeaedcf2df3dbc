"""``python -m helpers release``: one ref for badges and installs, and no release from a dirty checkout."""

import shutil
import subprocess

import nbformat
import pytest

from helpers.course import facts
from helpers.tools.release import ReleaseError, release

NOTEBOOKS = ["00_start_here.ipynb", "01_tensors_and_autograd.ipynb"]


def git(root, *arguments):
    return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path):
    """A small committed checkout: the package's version file and two notebooks."""
    (tmp_path / "helpers").mkdir()
    shutil.copy(facts.PACKAGE_ROOT / "__init__.py", tmp_path / "helpers")
    (tmp_path / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy(facts.NOTEBOOKS_DIR / name, tmp_path / "notebooks")
    shutil.copy(facts.CHECKOUT_ROOT / "README.md", tmp_path)
    (tmp_path / "docs").mkdir()
    shutil.copy(facts.CHECKOUT_ROOT / "docs" / "instructors.md", tmp_path / "docs")
    (tmp_path / "docs" / "notes.md").write_text("Nothing pinned here: v0.1.0 of something else.\n")
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "config", "user.email", "maintainer@example.org")
    git(tmp_path, "config", "user.name", "Maintainer")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "--quiet", "-m", "course")
    return tmp_path


def refs_in(path):
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells[:3])
    return {ref for ref in ("v0.1.0", "v0.2.0") if f"/blob/{ref}/" in text or f"@{ref}\"" in text}


def test_a_release_sets_one_ref_everywhere_then_executes_commits_and_tags(checkout):
    executed = []

    def execute(root):  # the real one re-executes every notebook (minutes) and writes the student edition
        executed.append(('"0.2.0"' in (root / "helpers" / "__init__.py").read_text(),
                         [refs_in(path) for path in sorted((root / "notebooks").glob("*.ipynb"))]))
        (root / "student").mkdir()
        (root / "student" / NOTEBOOKS[0]).write_text("the new student edition")

    readme_before = (checkout / "README.md").read_text()
    assert release("0.2.0", checkout, execute) == "v0.2.0"
    assert executed == [(True, [{"v0.2.0"}, {"v0.2.0"}])]
    readme = (checkout / "README.md").read_text()
    slug = facts.repository_slug()
    assert f"{slug}/blob/v0.1.0/" in readme_before and f"{slug}/blob/v0.1.0/" not in readme
    assert readme.count(f"{slug}/blob/v0.2.0/") == readme_before.count(f"{slug}/blob/v0.1.0/") >= 26  # 13 rows
    assert readme.replace("v0.2.0", "v0.1.0") == readme_before  # nothing else in it changed
    assert (checkout / "docs" / "notes.md").read_text() == "Nothing pinned here: v0.1.0 of something else.\n"
    assert git(checkout, "show", f"v0.2.0:student/{NOTEBOOKS[0]}") == "the new student edition"
    assert git(checkout, "status", "--porcelain") == ""
    assert git(checkout, "tag", "--list") == "v0.2.0\n"
    assert git(checkout, "log", "-1", "--format=%s", "v0.2.0") == "Release v0.2.0\n"


def test_a_release_refuses_uncommitted_changes_and_changes_nothing(checkout):
    (checkout / "notebooks" / NOTEBOOKS[0]).write_text((checkout / "notebooks" / NOTEBOOKS[0]).read_text() + " ")
    with pytest.raises(ReleaseError, match="uncommitted changes"):
        release("0.2.0", checkout, lambda root: pytest.fail("must not execute"))
    assert '"0.1.0"' in (checkout / "helpers" / "__init__.py").read_text()
    assert git(checkout, "tag", "--list") == ""


@pytest.mark.parametrize("version, message", [("0.2", "not a version"), ("v0.2.0", "not a version"),
                                              ("0.1.0", "exists already")])
def test_a_release_refuses_a_bad_or_used_version(checkout, version, message):
    git(checkout, "tag", "v0.1.0")
    with pytest.raises(ReleaseError, match=message):
        release(version, checkout, lambda root: pytest.fail("must not execute"))
