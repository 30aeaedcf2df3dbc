"""The real NIH malaria data set: download once, verify, extract safely, reuse.

The data set (Rajaraman et al., 2018) has 27,558 cell images from thin blood
smears of 150 infected and 50 healthy patients, half parasitized and half
uninfected. It is one zip file of about 353 MB::

    python -m helpers data nih --out data

The download goes through pooch, which shows a progress bar, checks the
SHA-256 and keeps nothing if the transfer breaks off. Extraction refuses any
member that would land outside the target folder and happens in a temporary
folder first, so an interrupted run leaves no half data set behind. An
existing copy (a previous download, or Kaggle's ``/kaggle/input`` copy) is
reused instead of downloading again. The zip can be kept in a folder of its
own (``downloads=``), such as Google Drive, so that a new Colab runtime finds
it there and only extracts it.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

NIH_URL = "https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip"
NIH_SHA256 = "0a949556b2414159b5100192609805376654c4266d8d187be9b1922fad43c668"
NIH_ZIP_BYTES = 353_452_851
CLASSES = ("Parasitized", "Uninfected")
IGNORED_FILES = {"Thumbs.db", ".DS_Store"}
KAGGLE_INPUT = Path("/kaggle/input")


class DataDownloadError(RuntimeError):
    """The data set could not be downloaded or extracted; the message says what to do."""


def image_folder_root(folder: Path) -> Path | None:
    """Return the folder under ``folder`` (itself included) that holds both class folders, or ``None``.

    The NIH zip nests them as ``cell_images/Parasitized``; Kaggle's copy as
    ``cell_images/cell_images/Parasitized``.
    """
    if not folder.is_dir():
        return None
    for candidate in [folder, *sorted(p.parent for p in folder.rglob("Parasitized"))]:
        if all((candidate / name).is_dir() for name in CLASSES):
            return candidate
    return None


def existing_copy(out_dir: Path, kaggle_input: Path = KAGGLE_INPUT) -> Path | None:
    """Return an extracted copy in ``out_dir`` or under Kaggle's input folder, if there is one."""
    for folder in [out_dir / "cell_images", *sorted(kaggle_input.glob("*"))]:
        root = image_folder_root(folder)
        if root is not None:
            return root
    return None


def download_zip(downloads: Path, url: str = NIH_URL, sha256: str = NIH_SHA256) -> Path:
    """Download the zip into ``downloads`` (or reuse a verified copy there); return its path."""
    import pooch
    import requests

    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname="cell_images.zip",
                                   path=downloads, progressbar=True))
    except requests.exceptions.ConnectionError as exc:
        raise DataDownloadError(
            f"Cannot reach {url} (offline?). Get the data by hand: download cell_images.zip "
            f"({NIH_ZIP_BYTES / 1e6:.0f} MB) in a browser, put it in {downloads}/ and run this "
            "again; it will be checked and used. In Kaggle, add the data set "
            "'Malaria Cell Images Dataset' to the notebook instead."
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise DataDownloadError(f"The download of {url} broke off ({exc}). Nothing was kept; "
                                "run the command again to retry.") from exc
    except ValueError as exc:  # pooch's checksum mismatch
        raise DataDownloadError(f"The file from {url} is not the expected one ({exc}). It was "
                                "deleted; run again, or download it by hand and compare its SHA-256.") from exc


def safe_extract(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing members that would land outside it."""
    target = target.resolve()
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target):
                raise DataDownloadError(f"Refusing to extract {archive.name}: its member "
                                        f"{member.filename!r} would land outside the data folder.")
        for member in zipped.infolist():
            if Path(member.filename).name not in IGNORED_FILES:
                zipped.extract(member, target)


def download_nih(out_dir: str | Path, url: str = NIH_URL, sha256: str = NIH_SHA256,
                 kaggle_input: Path = KAGGLE_INPUT, downloads: str | Path | None = None) -> Path:
    """Return the folder holding ``Parasitized/`` and ``Uninfected/``, downloading if needed.

    The images are extracted into ``out_dir/cell_images``; the zip is kept in
    ``downloads`` (``out_dir/downloads`` unless given) and reused from there.
    A copy attached under ``kaggle_input`` is used in place, never copied.

    Example:
        >>> root = download_nih("data")  # doctest: +SKIP
        >>> sorted(p.name for p in root.iterdir())  # doctest: +SKIP
        ['Parasitized', 'Uninfected']
    """
    out_dir = Path(out_dir)
    found = existing_copy(out_dir, kaggle_input)
    if found is not None:
        return found
    archive = download_zip(Path(downloads) if downloads is not None else out_dir / "downloads", url, sha256)
    partial = out_dir / "cell_images.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        safe_extract(archive, partial)
        if image_folder_root(partial) is None:
            raise DataDownloadError(f"{archive.name} does not hold Parasitized/ and Uninfected/ folders.")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(out_dir / "cell_images")
    return image_folder_root(out_dir / "cell_images")
