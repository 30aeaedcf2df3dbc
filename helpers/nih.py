"""The real NIH malaria data set: download once, verify, extract safely, reuse.

The data set (Rajaraman et al., 2018) has 27,558 cell images from thin blood
smears of 150 infected and 50 healthy patients, half parasitized and half
uninfected. It is one zip file of about 353 MB::

    python -m helpers data nih --out data

The download shows a progress bar, checks the SHA-256 and keeps nothing if
the transfer breaks off, stalls (less than 64 KB in a minute) or passes its
overall deadline; a temporary file left by a killed download is removed by the
next one. A zip put in ``downloads/`` by hand is checked, never deleted. Extraction refuses any
member that would land outside the target folder and happens in a temporary
folder first, so an interrupted run leaves no half data set behind. An
existing copy (a previous download, or Kaggle's ``/kaggle/input`` copy) is
reused instead of downloading again. The zip can be kept in a folder of its
own (``downloads=``), such as Google Drive, so that a new Colab runtime finds
it there and only extracts it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from helpers.safe_files import remove_stale_temporaries

NIH_URL = "https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip"
NIH_SHA256 = "0a949556b2414159b5100192609805376654c4266d8d187be9b1922fad43c668"
NIH_ZIP_BYTES = 353_452_851
CLASSES = ("Parasitized", "Uninfected")
IGNORED_FILES = {"Thumbs.db", ".DS_Store"}
KAGGLE_INPUT = Path("/kaggle/input")
ZIP_NAME = "cell_images.zip"
PART_FILE = re.compile(r"^\.cell_images\.zip\.(?P<pid>\d+)\.part$")
DOWNLOAD_DEADLINE_S = 3 * 3600.0
"""353 MB in three hours is 33 kB/s: slower than that, the download is given up with a message."""
STALL_TIMEOUT_S = 60.0
STALL_MIN_BYTES = 64 * 1024
"""Fewer bytes than this in ``STALL_TIMEOUT_S`` seconds counts as a stalled download."""
CHUNK_BYTES = 256 * 1024


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


def sha256_of(path: Path) -> str:
    """Return the SHA-256 of a file, read in 1 MB blocks.

    Example:
        >>> sha256_of(Path("data/downloads/cell_images.zip"))[:12]  # doctest: +SKIP
        '0a949556b241'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _offline_message(url: str, downloads: Path, reason: object) -> str:
    return (f"Cannot reach {url} ({reason}; offline?). Get the data by hand: download {ZIP_NAME} "
            f"({NIH_ZIP_BYTES / 1e6:.0f} MB) in a browser, put it in {downloads}/ and run this again; it will "
            "be checked and used. In Kaggle, add the data set 'Malaria Cell Images Dataset' to the notebook instead.")


def stream_to_file(url: str, target: Path, deadline_s: float = DOWNLOAD_DEADLINE_S,
                   stall_timeout_s: float = STALL_TIMEOUT_S, stall_min_bytes: int = STALL_MIN_BYTES) -> str:
    """Download ``url`` into ``target`` with a progress bar; return the SHA-256 of what arrived.

    Raises :class:`DataDownloadError` when the server cannot be reached, the
    transfer breaks off, fewer than ``stall_min_bytes`` arrive in
    ``stall_timeout_s`` seconds, or it all takes longer than ``deadline_s``.
    """
    from tqdm.auto import tqdm

    started = time.monotonic()
    try:
        response = urllib.request.urlopen(url, timeout=stall_timeout_s)
    except urllib.error.HTTPError as error:
        raise DataDownloadError(f"The server of {url} answered {error.code} {error.reason}: the file is not there "
                                f"now. Download {ZIP_NAME} in a browser from the NIH page and put it in "
                                f"{target.parent}/.") from None
    except (urllib.error.URLError, OSError) as error:
        raise DataDownloadError(_offline_message(url, target.parent, getattr(error, "reason", error))) from None
    digest, received = hashlib.sha256(), 0
    window_start, window_bytes = started, 0
    expected = int(response.headers.get("Content-Length") or 0)
    with response, open(target, "wb") as file, tqdm(total=expected or None, unit="B", unit_scale=True,
                                                    desc=ZIP_NAME) as bar:
        while True:
            try:
                chunk = response.read1(CHUNK_BYTES)
            except TimeoutError:
                chunk, window_start = None, -float("inf")  # nothing at all for stall_timeout_s seconds
            except OSError as error:
                raise DataDownloadError(f"The download of {url} broke off ({error}). Nothing was kept; "
                                        "run the command again to retry.") from None
            now = time.monotonic()
            if chunk == b"":
                break
            if chunk:
                file.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                window_bytes += len(chunk)
                bar.update(len(chunk))
            if window_bytes >= stall_min_bytes:
                window_start, window_bytes = now, 0
            elif now - window_start > stall_timeout_s:
                raise DataDownloadError(
                    f"The download of {url} stalled: fewer than {stall_min_bytes:,} bytes arrived in "
                    f"{stall_timeout_s:g} s ({received:,} bytes in all). Nothing was kept; try again later, or "
                    f"download {ZIP_NAME} in a browser and put it in {target.parent}/.")
            if now - started > deadline_s:
                raise DataDownloadError(
                    f"The download of {url} did not finish within {deadline_s:g} s ({received:,} of "
                    f"{expected or '?'} bytes). Nothing was kept; try again on a faster connection, or "
                    f"download {ZIP_NAME} in a browser and put it in {target.parent}/.")
    if expected and received != expected:
        raise DataDownloadError(f"The download of {url} broke off after {received:,} of {expected:,} bytes. "
                                "Nothing was kept; run the command again to retry.")
    return digest.hexdigest()


def download_zip(downloads: Path, url: str = NIH_URL, sha256: str = NIH_SHA256,
                 deadline_s: float = DOWNLOAD_DEADLINE_S, stall_timeout_s: float = STALL_TIMEOUT_S,
                 stall_min_bytes: int = STALL_MIN_BYTES) -> Path:
    """Download the zip into ``downloads`` (or reuse a verified copy there); return its path.

    A zip already there (downloaded by hand) is used if its SHA-256 matches and
    reported with both SHA-256s if not; it is never deleted. The download goes
    to ``.cell_images.zip.<pid>.part`` and is renamed once verified.

    Example:
        >>> download_zip(Path("data/downloads")).name  # doctest: +SKIP
        'cell_images.zip'
    """
    target = downloads / ZIP_NAME
    if target.is_file():
        found = sha256_of(target)
        if found == sha256:
            return target
        size_hint = f" (the NIH zip has {NIH_ZIP_BYTES:,})" if sha256 == NIH_SHA256 else ""
        raise DataDownloadError(
            f"{target} is not the expected file: its SHA-256 is {found}, expected {sha256}; it has "
            f"{target.stat().st_size:,} bytes{size_hint}. A download cut short or another file gives this. "
            "It was left as it is: delete it or move it away, then run again (or download it again in a browser).")
    downloads.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(downloads, PART_FILE)
    partial = downloads / f".{ZIP_NAME}.{os.getpid()}.part"
    try:
        found = stream_to_file(url, partial, deadline_s, stall_timeout_s, stall_min_bytes)
        if found != sha256:
            raise DataDownloadError(f"The file from {url} is not the expected one (SHA-256 {found}, expected "
                                    f"{sha256}). It was deleted; run again, or download it by hand and compare "
                                    "its SHA-256.")
        os.replace(partial, target)
    finally:  # also on Ctrl-C: no half file is left behind
        partial.unlink(missing_ok=True)
    return target


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
    out_dir.mkdir(parents=True, exist_ok=True)
    # a new folder of our own, so no folder a learner made is ever emptied
    partial = Path(tempfile.mkdtemp(prefix="cell_images.partial-", dir=out_dir))
    try:
        safe_extract(archive, partial)
        if image_folder_root(partial) is None:
            raise DataDownloadError(f"{archive.name} does not hold Parasitized/ and Uninfected/ folders.")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(out_dir / "cell_images")
    return image_folder_root(out_dir / "cell_images")
