"""Where the course keeps its files, in a local checkout, in Colab and in Kaggle.

* :func:`data_dir` holds the cell images and downloads;
* :func:`default_checkpoint_dir` holds checkpoints: Google Drive in Colab (mounted
  only when asked), ``/kaggle/working`` in Kaggle, ``checkpoints/`` locally.

It imports neither torch nor the learner's library, so the command line and the
doctor stay quick and work even when torch is broken.
"""

from __future__ import annotations

import os
from pathlib import Path

from helpers.course import facts
from helpers.course.environment import detect_runtime

DATA_DIR_ENV_VAR = "COURSE_DATA_DIR"
CHECKPOINT_DIR_ENV_VAR = "COURSE_CHECKPOINT_DIR"
COLAB_CONTENT_DIR = Path("/content")
KAGGLE_WORKING_DIR = Path("/kaggle/working")
"""Kaggle keeps what is written here as the notebook's output."""
KAGGLE_TEMP_DIR = Path("/kaggle/temp")
"""Kaggle's scratch space: kept for the session, never saved as output."""
COLAB_DRIVE_MOUNT_POINT = Path("/content/drive")
DRIVE_COURSE_FOLDER = "pytorch-course"
"""The course's folder under ``MyDrive``, so a learner's Drive stays tidy."""


class CourseFolderError(ValueError):
    """A course folder that cannot be made where it was pointed; the message names the setting to change."""


def make_course_folder(chosen: str | os.PathLike, setting: str) -> Path:
    """Return ``chosen`` (``~`` expanded) as a folder, creating it; ``setting`` names where it came from.

    Raises :class:`CourseFolderError` for a path that is a file, lies below a file,
    names an unknown user (``~nosuchuser``) or cannot be created.

    Example:
        >>> import tempfile
        >>> make_course_folder(tempfile.mkdtemp(), "COURSE_DATA_DIR").is_dir()
        True
    """
    text = os.fspath(chosen)
    try:
        folder = Path(text).expanduser()
    except RuntimeError:  # ~nosuchuser
        raise CourseFolderError(f"{setting} is {text!r}, but that user has no home folder here: give a full path, "
                                "or ~/... for your own home.") from None
    if text.startswith("~") and str(folder).startswith("~"):
        raise CourseFolderError(f"{setting} is {text!r}, and ~ cannot be expanded here (no home folder): give a "
                                "full path.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CourseFolderError(f"{setting} is {folder}, which is a file, not a folder: point {setting} at a "
                                "folder (it is created if needed), or move the file away.") from None
    except NotADirectoryError:
        blocker = next((parent for parent in folder.parents if parent.is_file()), folder.parent)
        raise CourseFolderError(f"{setting} is {folder}, below {blocker}, which is a file: point {setting} at a "
                                "folder elsewhere.") from None
    except OSError as error:
        raise CourseFolderError(f"{setting} is {folder}, which cannot be created ({error.strerror or error}): point "
                                f"{setting} at a folder you can write to.") from None
    return folder


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Return the course's data folder, creating it if needed.

    In order: ``explicit`` (a notebook's ``DATA_DIR`` parameter), the
    ``COURSE_DATA_DIR`` environment variable, then per runtime: ``/content/data``
    in Colab, ``/kaggle/temp/data`` in Kaggle (never ``/kaggle/working``, which
    Kaggle saves as the notebook's output: 27,558 images there would be saved
    with it), the checkout's ``data/`` folder locally, else
    ``~/.cache/pytorch-course/data``.

    Example:
        >>> data_dir().name
        'data'
    """
    if explicit:
        return make_course_folder(explicit, "DATA_DIR")
    if os.environ.get(DATA_DIR_ENV_VAR):
        return make_course_folder(os.environ[DATA_DIR_ENV_VAR], DATA_DIR_ENV_VAR)
    folder = KAGGLE_TEMP_DIR / "data" if detect_runtime() == "kaggle" else runtime_folder("data")
    return make_course_folder(folder, "the course's data folder")


def nih_downloads_dir(data_folder: Path) -> Path:
    """Return where the NIH zip is kept: on Google Drive when Colab has it mounted, else ``data_folder/downloads``.

    A zip on Drive outlives the Colab runtime, so the next session reuses it
    instead of downloading 353 MB again; the images are still extracted to the
    runtime's fast local disk. Drive is never mounted here: that asks for permission.

    Example:
        >>> nih_downloads_dir(Path("data"))  # on a laptop
        PosixPath('data/downloads')
    """
    drive = COLAB_DRIVE_MOUNT_POINT / "MyDrive"
    if detect_runtime() == "colab" and drive.is_dir():
        return drive / DRIVE_COURSE_FOLDER / "downloads"
    return data_folder / "downloads"


def runtime_folder(name: str) -> Path:
    """Return the course's folder ``name`` for this runtime (not created).

    ``/content/<name>`` in Colab, ``/kaggle/working/<name>`` in Kaggle, else
    :func:`local_course_folder`.

    Example:
        >>> runtime_folder("checkpoints").name
        'checkpoints'
    """
    runtime = detect_runtime()
    if runtime == "colab":
        return COLAB_CONTENT_DIR / name
    if runtime == "kaggle":
        return KAGGLE_WORKING_DIR / name
    return local_course_folder(name)


def local_course_folder(name: str) -> Path:
    """Return ``<checkout>/<name>`` in a checkout of the course, else ``~/.cache/pytorch-course/<name>``.

    Example:
        >>> local_course_folder("checkpoints").name
        'checkpoints'
    """
    if (facts.CHECKOUT_ROOT / "pyproject.toml").exists():
        return facts.CHECKOUT_ROOT / name
    return Path.home() / ".cache" / "pytorch-course" / name


def default_checkpoint_dir(mount_drive: bool = False) -> Path:
    """Return the folder for checkpoints here, creating it.

    In order: the ``COURSE_CHECKPOINT_DIR`` environment variable; in Colab, the
    course folder on Google Drive (mounted only when ``mount_drive=True``, since
    mounting asks for permission; it survives a disconnect), else ``/content``;
    ``/kaggle/working/checkpoints`` in Kaggle (kept with the notebook's output);
    ``checkpoints/`` in a checkout (git-ignored); else ``~/.cache/pytorch-course``.

    Example:
        >>> default_checkpoint_dir().name
        'checkpoints'
    """
    if os.environ.get(CHECKPOINT_DIR_ENV_VAR):
        return make_course_folder(os.environ[CHECKPOINT_DIR_ENV_VAR], CHECKPOINT_DIR_ENV_VAR)
    if detect_runtime() == "colab":
        drive = COLAB_DRIVE_MOUNT_POINT / "MyDrive"
        if mount_drive and not drive.is_dir():
            from google.colab import drive as colab_drive

            colab_drive.mount(str(COLAB_DRIVE_MOUNT_POINT))
        if drive.is_dir():
            folder = drive / DRIVE_COURSE_FOLDER / "checkpoints"
        else:
            folder = runtime_folder("checkpoints")
            print("Checkpoints go to /content/checkpoints, which a disconnect erases; "
                  "default_checkpoint_dir(mount_drive=True) keeps them on Google Drive.")
    else:
        folder = runtime_folder("checkpoints")
    return make_course_folder(folder, "the course's checkpoint folder")
