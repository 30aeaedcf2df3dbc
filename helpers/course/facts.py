"""Facts about the course itself: where it lives and which notebooks it has.

The repository URL is kept here and nowhere else: the Colab and Kaggle badges,
the setup cell of every notebook and the README links are all built from it.
When the course moves to its real home, change ``REPOSITORY_URL`` and nothing else.
Badges and installs use one ref, the release tag of the package's version, which
``python -m helpers release X.Y.Z`` sets.
"""

from __future__ import annotations

from pathlib import Path

from helpers import __version__

REPOSITORY_URL = "https://github.com/runnable-pytorch-cheatsheet/course"
"""The course's home on GitHub."""

PINNED_REF = f"v{__version__}"
"""The release tag the badges open, Colab and Kaggle install the package from and the backbone comes from.

One ref for all three, so a notebook never calls a helper its installed package lacks.
"""

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The ``helpers`` package folder."""
CHECKOUT_ROOT = PACKAGE_ROOT.parent
NOTEBOOKS_DIR = CHECKOUT_ROOT / "notebooks"

STUDENT_FOLDER = "student"
"""The committed student edition (the notebooks without their solutions), beside ``notebooks/``."""
STUDENT_DIR = CHECKOUT_ROOT / STUDENT_FOLDER
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE_IMAGE = "https://kaggle.com/static/images/open-in-kaggle.svg"


def notebook_paths(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Return the course notebooks in teaching order.

    Example:
        >>> [p.name for p in notebook_paths()][:2]
        ['00_start_here.ipynb', '01_tensors_and_autograd.ipynb']
    """
    return sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))


def repository_slug() -> str:
    """Return ``owner/name`` of the repository, e.g. ``'runnable-pytorch-cheatsheet/course'``."""
    return REPOSITORY_URL.removeprefix("https://github.com/")


def site_url() -> str:
    """Return the course website's address on GitHub Pages.

    Example:
        >>> site_url()
        'https://runnable-pytorch-cheatsheet.github.io/course/'
    """
    owner, name = repository_slug().split("/")
    return f"https://{owner}.github.io/{name}/"


def colab_url(notebook_name: str, folder: str = "notebooks", ref: str = PINNED_REF) -> str:
    """Return the link that opens a notebook of the course (in ``folder`` at ``ref``) in Google Colab.

    Example:
        >>> colab_url("01_tensors_and_autograd.ipynb")[:44]
        'https://colab.research.google.com/github/run'
    """
    return (
        f"https://colab.research.google.com/github/{repository_slug()}"
        f"/blob/{ref}/{folder}/{notebook_name}"
    )


def kaggle_url(notebook_name: str, folder: str = "notebooks", ref: str = PINNED_REF) -> str:
    """Return the link that imports a notebook of the course (in ``folder`` at ``ref``) into Kaggle."""
    return (
        "https://kaggle.com/kernels/welcome?src="
        f"{REPOSITORY_URL}/blob/{ref}/{folder}/{notebook_name}"
    )


def open_badges(notebook_name: str, folder: str, what: str = "", ref: str = PINNED_REF) -> str:
    """Return the 'Open in Colab' and 'Open in Kaggle' badges of one notebook in ``folder``.

    Example:
        >>> open_badges("00_start_here.ipynb", STUDENT_FOLDER, " (student edition)")[:41]
        '[![Open In Colab (student edition)](https'
    """
    return (
        f"[![Open In Colab{what}]({COLAB_BADGE_IMAGE})]({colab_url(notebook_name, folder, ref)}) "
        f"[![Open In Kaggle{what}]({KAGGLE_BADGE_IMAGE})]({kaggle_url(notebook_name, folder, ref)})"
    )


def badges_markdown(notebook_name: str, ref: str = PINNED_REF) -> str:
    """Return a notebook's badge line: open it at ``ref`` in Colab or Kaggle, with or without the solutions."""
    return (f"{open_badges(notebook_name, 'notebooks', ref=ref)} Without the solutions: "
            f"{open_badges(notebook_name, STUDENT_FOLDER, ' (student edition)', ref)}")


def student_badges_markdown(notebook_name: str, ref: str = PINNED_REF) -> str:
    """Return the badge line of a notebook's student edition: it opens the student edition itself."""
    badges = open_badges(notebook_name, STUDENT_FOLDER, " (student edition)", ref)
    return f"Student edition, without the solutions: {badges}"


def install_spec(ref: str = PINNED_REF) -> str:
    """Return what ``pip install`` takes in Colab and Kaggle: the package at the release tag ``ref``."""
    return f"runnable-pytorch-cheatsheet @ git+{REPOSITORY_URL}@{ref}"


MINIMUM_TORCH = "2.7"
"""pyproject.toml's lower bound for torch, named in the setup cell's advice (a test keeps them equal)."""


SETUP_CALL = "from helpers.course.environment import setup; setup()"
"""The setup cell's last line: the rest of the setup lives in the package (:func:`helpers.course.environment.setup`)."""


def setup_install_command(ref: str = PINNED_REF) -> str:
    """Return the setup cell's shell line: in Colab (``/content``) and Kaggle (``/kaggle``) install the course.

    It installs the course package alone, at the release tag ``ref``, with
    ``--no-deps``: pip touches nothing the runtime has, and :func:`setup` then
    installs only what is missing, keeping the runtime's torch. Anywhere else
    (a checkout, CI) neither folder exists and the line does nothing.

    Example:
        >>> print(setup_install_command("v1.0.0"))  # doctest: +NORMALIZE_WHITESPACE
        [ -d /content ] || [ -d /kaggle ] && pip install --quiet --no-deps
        "runnable-pytorch-cheatsheet @ git+https://github.com/runnable-pytorch-cheatsheet/course@v1.0.0"
    """
    return f'[ -d /content ] || [ -d /kaggle ] && pip install --quiet --no-deps "{install_spec(ref)}"'


def setup_cell_source(ref: str = PINNED_REF) -> str:
    """Return the first code cell of every notebook: one line installs the course in Colab and Kaggle, one sets up.

    As fastbook's ``!pip install`` and ``fastbook.setup_book()``: the install
    line (:func:`setup_install_command`) is exact and does nothing outside
    Colab and Kaggle, and everything else is :data:`SETUP_CALL`, in the package.
    """
    return (f"# Colab and Kaggle: the next line installs the course package ({ref}); elsewhere it does nothing.\n"
            f"!{setup_install_command(ref)}\n{SETUP_CALL}")
