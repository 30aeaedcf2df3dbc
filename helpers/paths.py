"""Where the course keeps data, in a local checkout, in Colab and in Kaggle."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import course
from helpers.environment import detect_runtime

DATA_DIR_ENV_VAR = "COURSE_DATA_DIR"
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
    elif (course.CHECKOUT_ROOT / "pyproject.toml").exists():
        folder = course.CHECKOUT_ROOT / "data"
    else:
        folder = Path.home() / ".cache" / "pytorch-course" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
