"""Facts about the course itself: where it lives and which notebooks it has.

The repository URL is kept here and nowhere else: the Colab and Kaggle badges,
the setup cell of every notebook and the README links are all built from it.
"""

from __future__ import annotations

from pathlib import Path

from helpers import __version__

REPOSITORY_URL = "https://github.com/runnable-pytorch-cheatsheet/course"
"""The course's home on GitHub."""

PINNED_REF = f"v{__version__}"
"""The git tag that Colab and Kaggle install the course package from."""

BADGE_REF = "main"
"""The branch the badges open, so a learner always sees the current notebook."""

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


def colab_url(notebook_name: str, folder: str = "notebooks") -> str:
    """Return the link that opens a notebook of the course (in ``folder`` of the repository) in Google Colab.

    Example:
        >>> colab_url("01_tensors_and_autograd.ipynb")[:44]
        'https://colab.research.google.com/github/run'
    """
    return (
        f"https://colab.research.google.com/github/{repository_slug()}"
        f"/blob/{BADGE_REF}/{folder}/{notebook_name}"
    )


def kaggle_url(notebook_name: str, folder: str = "notebooks") -> str:
    """Return the link that imports a notebook of the course (in ``folder`` of the repository) into Kaggle."""
    return (
        "https://kaggle.com/kernels/welcome?src="
        f"{REPOSITORY_URL}/blob/{BADGE_REF}/{folder}/{notebook_name}"
    )


def open_badges(notebook_name: str, folder: str, what: str = "") -> str:
    """Return the 'Open in Colab' and 'Open in Kaggle' badges of one notebook in ``folder``.

    Example:
        >>> open_badges("00_start_here.ipynb", STUDENT_FOLDER, " (student edition)")[:41]
        '[![Open In Colab (student edition)](https'
    """
    return (
        f"[![Open In Colab{what}]({COLAB_BADGE_IMAGE})]({colab_url(notebook_name, folder)}) "
        f"[![Open In Kaggle{what}]({KAGGLE_BADGE_IMAGE})]({kaggle_url(notebook_name, folder)})"
    )


def badges_markdown(notebook_name: str) -> str:
    """Return a notebook's badge line: open it in Colab or Kaggle, with or without the solutions."""
    return (f"{open_badges(notebook_name, 'notebooks')} Without the solutions: "
            f"{open_badges(notebook_name, STUDENT_FOLDER, ' (student edition)')}")


def student_badges_markdown(notebook_name: str) -> str:
    """Return the badge line of a notebook's student edition: it opens the student edition itself."""
    return f"Student edition, without the solutions: {open_badges(notebook_name, STUDENT_FOLDER, ' (student edition)')}"


def install_spec() -> str:
    """Return what ``pip install`` takes in Colab and Kaggle: the package at the pinned tag."""
    return f"runnable-pytorch-cheatsheet @ git+{REPOSITORY_URL}@{PINNED_REF}"


def setup_cell_source() -> str:
    """Return the first code cell of every notebook.

    It installs nothing in a local checkout (``helpers`` is importable there),
    installs the course package at the pinned tag in Colab and Kaggle, and never
    touches the runtime's torch: the package asks for lower bounds only, and pip
    is told to keep the installed torch and torchvision, so a runtime older than
    the course supports fails loudly instead of downloading a new torch.
    """
    return f'''# Setup: runs unchanged in a local checkout, Google Colab and Kaggle.
import importlib.util, subprocess, sys
from pathlib import Path

if importlib.util.find_spec("helpers") is None and Path("../helpers/__init__.py").exists():
    sys.path.insert(0, str(Path("..").resolve()))  # a checkout opened with another kernel
if importlib.util.find_spec("helpers") is None:  # Colab or Kaggle: install the course package
    from importlib.metadata import version  # pip must keep the runtime's own torch and torchvision
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "{install_spec()}",
                    f"torch=={{version('torch')}}", f"torchvision=={{version('torchvision')}}"],
                   check=True)
    importlib.invalidate_caches()

import helpers.course.environment
helpers.course.environment.setup_notebook()'''
