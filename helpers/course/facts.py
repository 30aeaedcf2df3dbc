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


def colab_url(notebook_name: str, ref: str = PINNED_REF) -> str:
    """Return the link that opens a notebook of the course in Google Colab.

    Example:
        >>> colab_url("01_tensors_and_autograd.ipynb")[:44]
        'https://colab.research.google.com/github/run'
    """
    return (
        f"https://colab.research.google.com/github/{repository_slug()}"
        f"/blob/{ref}/notebooks/{notebook_name}"
    )


def kaggle_url(notebook_name: str, ref: str = PINNED_REF) -> str:
    """Return the link that imports a notebook of the course into Kaggle."""
    return (
        "https://kaggle.com/kernels/welcome?src="
        f"{REPOSITORY_URL}/blob/{ref}/notebooks/{notebook_name}"
    )


def badges_markdown(notebook_name: str, ref: str = PINNED_REF) -> str:
    """Return the Markdown line of 'Open in Colab' and 'Open in Kaggle' badges for the release ``ref``."""
    colab = "https://colab.research.google.com/assets/colab-badge.svg"
    kaggle = "https://kaggle.com/static/images/open-in-kaggle.svg"
    return (
        f"[![Open In Colab]({colab})]({colab_url(notebook_name, ref)}) "
        f"[![Open In Kaggle]({kaggle})]({kaggle_url(notebook_name, ref)})"
    )


def install_spec(ref: str = PINNED_REF) -> str:
    """Return what ``pip install`` takes in Colab and Kaggle: the package at the release tag ``ref``."""
    return f"runnable-pytorch-cheatsheet @ git+{REPOSITORY_URL}@{ref}"


MINIMUM_TORCH = "2.7"
"""pyproject.toml's lower bound for torch, named in the setup cell's advice (a test keeps them equal)."""


def setup_cell_source(ref: str = PINNED_REF) -> str:
    """Return the first code cell of every notebook.

    It installs nothing in a local checkout (``helpers`` is importable there),
    installs the course package at the release tag ``ref`` in Colab and Kaggle, and
    never touches the runtime's torch: the package asks for lower bounds only, and
    pip is told to keep the installed torch and torchvision, so a runtime older than
    the course supports fails loudly instead of downloading a new torch. A failed
    install ends with one paragraph: the likely causes and where to read more.
    """
    return f'''# Setup: runs unchanged in a local checkout, Google Colab and Kaggle.
import importlib.util, subprocess, sys
from pathlib import Path

if importlib.util.find_spec("helpers") is None and Path("../helpers/__init__.py").exists():
    sys.path.insert(0, str(Path("..").resolve()))  # a checkout opened with another kernel
if importlib.util.find_spec("helpers") is None:  # Colab or Kaggle: install the course package
    from importlib.metadata import version  # pip must keep the runtime's own torch and torchvision
    print("Installing the course package {ref} from GitHub (torch and torchvision stay as they are) ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                          "{install_spec(ref)}",
                          f"torch=={{version('torch')}}", f"torchvision=={{version('torchvision')}}"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        print(pip.stdout + pip.stderr, file=sys.stderr)
        raise RuntimeError(
            "The course package did not install (pip's messages are above). Likely causes: no internet "
            "(in Kaggle, turn Internet on under Settings), a runtime torch older than {MINIMUM_TORCH} (start "
            "a current runtime), or the course's release {ref} out of reach (try again later). Read "
            "{REPOSITORY_URL}#troubleshooting") from None
    importlib.invalidate_caches()

import helpers.course.environment
helpers.course.environment.setup_notebook()'''
