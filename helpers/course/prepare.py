"""What the notebooks start from: the cell images a preset asks for, and the course's backbone.

* :func:`prepare_cell_images` gives synthetic cells in the ``smoke`` and ``class``
  presets (``helpers.synthetic``), the real NIH data set in ``full``
  (``helpers.nih``), in the course's data folder (``helpers.course.paths``),
  made or downloaded once and reused.
* :func:`course_backbone_path` finds the small pretrained backbone the course
  ships, for ``helpers.pretrained.load_pretrained_backbone``.
"""

from __future__ import annotations

from pathlib import Path

from helpers import nih
from helpers.course import facts
from helpers.course.paths import data_dir, nih_downloads_dir
from helpers.course.presets import Settings
from helpers.pretrained import BACKBONE_FILE, BACKBONE_SHA256
from helpers.synthetic import make_synthetic_cells


def prepare_cell_images(settings: Settings, url: str | None = None, sha256: str | None = None) -> Path:
    """Return the image folder the preset asks for, making or downloading it if needed.

    ``url`` and ``sha256`` replace the NIH download's address and checksum (a
    mirror, or a test server); ``None`` keeps the official ones. In Kaggle the
    data set attached under ``/kaggle/input`` is used in place; in Colab with
    Google Drive mounted, the zip is kept on Drive for the next runtime.

    Example:
        >>> from helpers.course.presets import resolve_settings
        >>> smoke = resolve_settings("smoke")
        >>> import contextlib, io
        >>> with contextlib.redirect_stdout(io.StringIO()) as shown:  # the progress bar, made to be read
        ...     folder = prepare_cell_images(smoke)
        >>> folder.name, "making 96 synthetic cell images (once)" in shown.getvalue()
        ('synthetic_cells_48_seed0', True)
        >>> prepare_cell_images(smoke) == folder  # the second time there is nothing to make
        True
    """
    root = data_dir(settings.data_dir)
    if settings.use_real_data:
        return nih.download_nih(root, url=url or nih.NIH_URL, sha256=sha256 or nih.NIH_SHA256,
                                kaggle_input=nih.KAGGLE_INPUT, downloads=nih_downloads_dir(root))
    folder = root / "generated" / f"synthetic_cells_{settings.images_per_class}_seed{settings.seed}"
    return make_synthetic_cells(folder, per_class=settings.images_per_class, seed=settings.seed, progress=True)


def course_backbone_path() -> Path:
    """Return the shipped backbone's file: the checkout's ``data/pretrained/``, else a checked download.

    In Colab and Kaggle the course package comes without ``data/``, so the
    file is fetched once from the repository at the pinned tag (pooch checks
    its SHA-256) into the course's data folder.
    """
    shipped = facts.CHECKOUT_ROOT / "data" / "pretrained" / BACKBONE_FILE
    if shipped.exists():
        return shipped
    import pooch

    url = (f"https://raw.githubusercontent.com/{facts.repository_slug()}/{facts.PINNED_REF}"
           f"/data/pretrained/{BACKBONE_FILE}")
    return Path(pooch.retrieve(url, known_hash=f"sha256:{BACKBONE_SHA256}", fname=BACKBONE_FILE,
                               path=data_dir() / "pretrained", progressbar=False))
