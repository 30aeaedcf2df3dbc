"""Where the course keeps data, in a local checkout, in Colab and in Kaggle."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import course
from helpers.environment import detect_runtime

DATA_DIR_ENV_VAR = "COURSE_DATA_DIR"
CHECKPOINT_DIR_ENV_VAR = "COURSE_CHECKPOINT_DIR"
COLAB_DATA_DIR = Path("/content/data")
KAGGLE_DATA_DIR = Path("/kaggle/working/data")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Return the course's data folder, creating it if needed.

    In order: ``explicit`` (a notebook's ``DATA_DIR`` parameter), the
    ``COURSE_DATA_DIR`` environment variable, then per runtime: ``/content/data``
    in Colab, ``/kaggle/working/data`` in Kaggle, the checkout's ``data/``
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
