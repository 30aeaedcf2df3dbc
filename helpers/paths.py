"""Where the course keeps data, in a local checkout, in Colab and in Kaggle."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import course
from helpers.environment import detect_runtime

DATA_DIR_ENV_VAR = "COURSE_DATA_DIR"
CHECKPOINT_DIR_ENV_VAR = "COURSE_CHECKPOINT_DIR"
COLAB_DATA_DIR = Path("/content/data")
COLAB_DRIVE_FOLDER = Path("/content/drive/MyDrive/pytorch-course")
"""The course's folder on Google Drive, when Drive is mounted in Colab."""
KAGGLE_DATA_DIR = Path("/kaggle/temp/data")
"""Kaggle saves everything in ``/kaggle/working`` as the notebook's output; ``/kaggle/temp`` is scratch space."""


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Return the course's data folder, creating it if needed.

    In order: ``explicit`` (a notebook's ``DATA_DIR`` parameter), the
    ``COURSE_DATA_DIR`` environment variable, then per runtime: ``/content/data``
    in Colab, ``/kaggle/temp/data`` in Kaggle (never ``/kaggle/working``, which
    Kaggle saves as the notebook's output), the checkout's ``data/``
    folder locally, else ``~/.cache/pytorch-course/data``.

    Example:
        >>> data_dir().name
        'data'
    """
    chosen = explicit or os.environ.get(DATA_DIR_ENV_VAR)
    if chosen:
        folder = Path(chosen).expanduser()
    elif detect_runtime() == "colab":
        folder = COLAB_DATA_DIR
    elif detect_runtime() == "kaggle":
        folder = KAGGLE_DATA_DIR
    else:
        folder = local_course_folder("data")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_course_folder(name: str) -> Path:
    """Return ``<checkout>/<name>`` in a checkout of the course, else ``~/.cache/pytorch-course/<name>``.

    Example:
        >>> local_course_folder("checkpoints").name
        'checkpoints'
    """
    if (course.CHECKOUT_ROOT / "pyproject.toml").exists():
        return course.CHECKOUT_ROOT / name
    return Path.home() / ".cache" / "pytorch-course" / name


def nih_downloads_dir(data_folder: Path) -> Path:
    """Return where the NIH zip is kept: on Google Drive when Colab has it mounted, else ``data_folder/downloads``.

    A zip on Drive outlives the Colab runtime, so the next session reuses it
    instead of downloading 353 MB again; the images are still extracted to the
    runtime's fast local disk.

    Example:
        >>> nih_downloads_dir(Path("data"))  # on a laptop
        PosixPath('data/downloads')
    """
    drive_root = COLAB_DRIVE_FOLDER.parent
    if detect_runtime() == "colab" and drive_root.is_dir():
        return COLAB_DRIVE_FOLDER / "downloads"
    return data_folder / "downloads"
