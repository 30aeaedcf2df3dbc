"""The real NIH malaria data set: download once, verify, extract safely, reuse.

The data set (Rajaraman et al., 2018) has 27,558 cell images from thin blood
smears of 150 infected and 50 healthy patients, half parasitized and half
uninfected. It is one zip file of about 353 MB::

    python -m helpers data nih --out data

The download shows a progress bar and checks the SHA-256. A transfer that
breaks off is resumed where it stopped (or restarted, if the server cannot
resume), a few times at most; one that stalls (less than 64 KB in a minute) or
passes its overall deadline is given up, keeping nothing. A temporary file
left by a killed download is removed by the next one. A zip put in
``downloads/`` by hand is checked, never deleted. Extraction refuses a member
that would land outside the target folder, a name that occurs twice, and an
archive that would expand past a size cap or the free disk space; it happens
in a temporary folder first, so an interrupted run leaves no half data set
behind, and the next run removes the folder of a run that was killed. An
existing copy (a previous download, or Kaggle's ``/kaggle/input`` copy) is
reused instead of downloading again. The zip can be kept in a folder of its
own (``downloads=``), such as Google Drive, so that a new Colab runtime finds
it there and only extracts it.

Why not pooch, which fetches the course's backbone: pooch 1.9's ``HTTPDownloader``
sends no ``Range`` request, so a transfer that breaks at 300 of 353 MB starts again
from zero, and ``pooch.retrieve`` replaces a file whose hash does not match (its
"update" action), which would overwrite a zip a learner put in ``downloads/``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from helpers.progress import text_bar
from helpers.safe_files import exclusive_temporary, remove_stale_temporaries, sync_folder

NIH_URL = "https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip"
NIH_SHA256 = "0a949556b2414159b5100192609805376654c4266d8d187be9b1922fad43c668"
NIH_ZIP_BYTES = 353_452_851
CLASSES = ("Parasitized", "Uninfected")
IGNORED_FILES = {"Thumbs.db", ".DS_Store"}
KAGGLE_INPUT = Path("/kaggle/input")
ZIP_NAME = "cell_images.zip"
PART_FILE = re.compile(r"^\.cell_images\.zip\.(?P<pid>\d+)\.([a-z0-9_]+\.)?part$")
PARTIAL_FOLDER = re.compile(r"^cell_images\.partial-(?P<pid>\d+)-[a-z0-9_]+$")
"""The folder an extraction fills before it is renamed ``cell_images``: ``cell_images.partial-4242-k3j9x``."""
SHA256_TEXT = re.compile(r"^[0-9a-f]{64}$")
MAX_ATTEMPTS = 4
"""A download that breaks off is tried this many times in all (resumed where the server allows) before giving up."""
RETRY_PAUSE_S = 2.0
"""Seconds to wait before the first retry; each later one waits twice as long."""
MAX_EXTRACTED_BYTES = 2 * 1024**3
"""The NIH zip expands to about 0.7 GB: an archive that would expand to more is refused."""
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


def normalised_sha256(sha256: str) -> str:
    """Return ``sha256`` as 64 lower-case hex digits (spaces, a newline or a ``sha256:`` prefix removed).

    Raises :class:`DataDownloadError` for anything else, before a byte is downloaded.

    Example:
        >>> normalised_sha256("SHA256:0A949556B2414159B5100192609805376654C4266D8D187BE9B1922FAD43C668\\n")[:12]
        '0a949556b241'
    """
    text = str(sha256).strip().lower()
    text = text.removeprefix("sha256:").strip()
    if not SHA256_TEXT.match(text):
        raise DataDownloadError(f"{str(sha256)[:80]!r} is not a SHA-256: expected 64 hex digits (0-9, a-f), such "
                                f"as the official zip's {NIH_SHA256}. Copy it again from where you found it.")
    return text


def content_length(headers: object) -> int | None:
    """Return the ``Content-Length`` a server sent, or ``None`` when it sent none or garbage (``abc``, ``-5``).

    Example:
        >>> content_length({"Content-Length": "353452851"}), content_length({"Content-Length": "abc"})
        (353452851, None)
    """
    text = str(headers.get("Content-Length") or "").strip()  # type: ignore[attr-defined]
    return int(text) if text.isdigit() else None


class _BrokenOff(Exception):
    """The connection ended before the whole file arrived: worth resuming."""


def _connect(url: str, start: int, timeout_s: float, downloads: Path):
    """Open ``url`` from byte ``start`` on (a ``Range`` request); raise :class:`DataDownloadError` if impossible."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        raise DataDownloadError(f"The server of {url} answered {error.code} {error.reason}: the file is not there "
                                f"now. Download {ZIP_NAME} in a browser from the NIH page and put it in "
                                f"{downloads}/.") from None
    except (urllib.error.URLError, OSError) as error:
        raise DataDownloadError(_offline_message(url, downloads, getattr(error, "reason", error))) from None


def stream_to_file(url: str, target: Path, deadline_s: float = DOWNLOAD_DEADLINE_S,
                   stall_timeout_s: float = STALL_TIMEOUT_S, stall_min_bytes: int = STALL_MIN_BYTES,
                   attempts: int = MAX_ATTEMPTS) -> str:
    """Download ``url`` into ``target`` with a progress bar; return the SHA-256 of what arrived.

    A transfer that breaks off is resumed from the bytes already there (an HTTP
    ``Range`` request; a server that ignores it sends the whole file again),
    ``attempts`` times in all. Raises :class:`DataDownloadError` when the server
    cannot be reached, the transfer broke off every time, fewer than
    ``stall_min_bytes`` arrive in ``stall_timeout_s`` seconds, or it all takes
    longer than ``deadline_s``.
    """
    transfer = _Transfer(url, target.parent, deadline_s, stall_timeout_s, stall_min_bytes)
    digest, broken = hashlib.sha256(), ""
    descriptor = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "wb") as file, text_bar(unit="B", unit_scale=True, desc=ZIP_NAME) as bar:
        for attempt in range(attempts):
            if attempt:
                left = max(0.0, deadline_s - (time.monotonic() - transfer.started))
                time.sleep(min(RETRY_PAUSE_S * 2 ** (attempt - 1), left))
            try:
                response = _connect(url, transfer.received, stall_timeout_s, target.parent)
            except DataDownloadError:
                if not attempt:
                    raise
                broken = "the server could not be reached again"
                continue
            with response:
                resumed = response.status == 206 and str(response.headers.get("Content-Range", "")).startswith(
                    f"bytes {transfer.received}-")
                if transfer.received and not resumed:  # the server cannot resume: it all comes again
                    file.seek(0)
                    file.truncate()
                    digest, transfer.received = hashlib.sha256(), 0
                    bar.reset()
                length = content_length(response.headers)
                if transfer.total is None and length is not None:
                    transfer.total = transfer.received + length
                    bar.total = transfer.total
                    bar.refresh()
                try:
                    _copy(response, file, digest, bar, transfer)
                except _BrokenOff as error:
                    broken = str(error)
                    continue
            if transfer.total is None or transfer.received >= transfer.total:
                break
            broken = f"it ended after {transfer.received:,} of {transfer.total:,} bytes"
        else:
            raise DataDownloadError(f"The download of {url} broke off {attempts} times (last: {broken}). Nothing "
                                    f"was kept; run the command again later, or download {ZIP_NAME} in a browser "
                                    f"and put it in {target.parent}/.")
        file.flush()
        os.fsync(file.fileno())
    return digest.hexdigest()


@dataclass
class _Transfer:
    """One download: where from and to, its limits, and what has arrived so far."""

    url: str
    downloads: Path
    deadline_s: float
    stall_timeout_s: float
    stall_min_bytes: int
    started: float = field(default_factory=time.monotonic)
    received: int = 0
    total: int | None = None


def _copy(response, file, digest, bar, transfer: _Transfer) -> None:
    """Copy ``response`` into ``file`` until it ends, counting into ``transfer.received``.

    Raises :class:`_BrokenOff` when the connection breaks, :class:`DataDownloadError` on a stall or the deadline.
    """
    window_start, window_bytes = time.monotonic(), 0
    while True:
        try:
            chunk = response.read1(CHUNK_BYTES)
        except TimeoutError:
            chunk, window_start = None, -float("inf")  # nothing at all for stall_timeout_s seconds
        except (OSError, http.client.HTTPException) as error:
            raise _BrokenOff(str(error) or type(error).__name__) from None
        now = time.monotonic()
        if chunk == b"":
            return
        if chunk:
            file.write(chunk)
            digest.update(chunk)
            transfer.received += len(chunk)
            window_bytes += len(chunk)
            bar.update(len(chunk))
        if window_bytes >= transfer.stall_min_bytes:
            window_start, window_bytes = now, 0
        elif now - window_start > transfer.stall_timeout_s:
            raise DataDownloadError(
                f"The download of {transfer.url} stalled: fewer than {transfer.stall_min_bytes:,} bytes arrived in "
                f"{transfer.stall_timeout_s:g} s ({transfer.received:,} bytes in all). Nothing was kept; try again "
                f"later, or download {ZIP_NAME} in a browser and put it in {transfer.downloads}/.")
        if now - transfer.started > transfer.deadline_s:
            raise DataDownloadError(
                f"The download of {transfer.url} did not finish within {transfer.deadline_s:g} s "
                f"({transfer.received:,} of {transfer.total or '?'} bytes). Nothing was kept; try again on a faster "
                f"connection, or download {ZIP_NAME} in a browser and put it in {transfer.downloads}/.")


def download_zip(downloads: Path, url: str = NIH_URL, sha256: str = NIH_SHA256,
                 deadline_s: float = DOWNLOAD_DEADLINE_S, stall_timeout_s: float = STALL_TIMEOUT_S,
                 stall_min_bytes: int = STALL_MIN_BYTES) -> Path:
    """Download the zip into ``downloads`` (or reuse a verified copy there); return its path.

    A zip already there (downloaded by hand) is used if its SHA-256 matches and
    reported with both SHA-256s if not; it is never deleted. The download goes
    to ``.cell_images.zip.<pid>.<random>.part`` and is renamed once verified.

    Example:
        >>> download_zip(Path("data/downloads")).name  # doctest: +SKIP
        'cell_images.zip'
    """
    sha256 = normalised_sha256(sha256)
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
    descriptor, partial = exclusive_temporary(target, suffix=".part")
    os.close(descriptor)
    try:
        found = stream_to_file(url, partial, deadline_s, stall_timeout_s, stall_min_bytes)
        if found != sha256:
            raise DataDownloadError(f"The file from {url} is not the expected one (SHA-256 {found}, expected "
                                    f"{sha256}). It was deleted; run again, or download it by hand and compare "
                                    "its SHA-256.")
        os.replace(partial, target)
    finally:  # also on Ctrl-C: no half file is left behind
        partial.unlink(missing_ok=True)
    sync_folder(target.parent)
    return target


def safe_extract(archive: Path, target: Path, max_bytes: int = MAX_EXTRACTED_BYTES) -> None:
    """Extract ``archive`` into ``target``, refusing it whole if any member is unsafe.

    Refused, before anything is written: a member that would land outside
    ``target``, two members that would land on one path (the second would
    silently win), and an archive that expands past ``max_bytes`` or the free
    space on the disk.
    """
    target = target.resolve()
    with zipfile.ZipFile(archive) as zipped:
        members = [member for member in zipped.infolist() if Path(member.filename).name not in IGNORED_FILES]
        destinations: dict[str, str] = {}
        for member in members:
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target):
                raise DataDownloadError(f"Refusing to extract {archive.name}: its member "
                                        f"{member.filename!r} would land outside the data folder.")
            key = str(destination).casefold()  # macOS and Windows file systems ignore case
            if key in destinations and not member.is_dir():
                raise DataDownloadError(f"Refusing to extract {archive.name}: its members {destinations[key]!r} and "
                                        f"{member.filename!r} would land on the same file, and one would silently "
                                        "replace the other. Download the archive again from its source.")
            destinations[key] = member.filename
        expanded = sum(member.file_size for member in members)
        free = shutil.disk_usage(target.parent if not target.exists() else target).free
        if expanded > max_bytes or expanded > free:
            limit = f"the cap of {max_bytes:,} bytes" if expanded > max_bytes else f"the {free:,} bytes free"
            raise DataDownloadError(f"Refusing to extract {archive.name}: it would expand to {expanded:,} bytes, more "
                                    f"than {limit}. The NIH zip expands to about 0.7 GB; a larger one is another "
                                    "file or a zip bomb. Free some disk space, or check the archive.")
        for member in members:
            zipped.extract(member, target)


def check_no_half_copy(out_dir: Path) -> None:
    """Raise :class:`DataDownloadError` if ``out_dir/cell_images`` is there but not a whole copy.

    It is usually an unzip by hand that was cut short; it is left as it is, and
    no download or extraction starts that could only fail on it.
    """
    folder = out_dir / "cell_images"
    if folder.exists() or folder.is_symlink():
        what = "a file" if not folder.is_dir() else "a folder without both Parasitized/ and Uninfected/ in it"
        raise DataDownloadError(f"{folder} is {what}: an unzip cut short, or something else of that name. It was "
                                "left as it is. Move it away or delete it, then run again to extract a whole copy "
                                "(the zip in downloads/ is reused).")


def remove_stale_extractions(out_dir: Path) -> None:
    """Remove the partial folders of extractions whose process is gone; name older ones that cannot be told."""
    for removed in remove_stale_temporaries(out_dir, PARTIAL_FOLDER):
        print(f"removed {removed.name}, left by an extraction that was stopped")
    unowned = sorted(p.name for p in out_dir.glob("cell_images.partial-*") if not PARTIAL_FOLDER.match(p.name))
    if unowned:
        print(f"note: {', '.join(unowned[:3])} in {out_dir} look like extractions an older version of the course "
              "left when it was stopped; delete them to free the disk space if no extraction is running.")


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
    sha256 = normalised_sha256(sha256)
    found = existing_copy(out_dir, kaggle_input)
    if found is not None:
        return found
    check_no_half_copy(out_dir)
    if out_dir.is_dir():
        remove_stale_extractions(out_dir)
    archive = download_zip(Path(downloads) if downloads is not None else out_dir / "downloads", url, sha256)
    out_dir.mkdir(parents=True, exist_ok=True)
    # a new folder of our own, named after this process, so no folder a learner made is ever emptied
    partial = Path(tempfile.mkdtemp(prefix=f"cell_images.partial-{os.getpid()}-", dir=out_dir))
    try:
        safe_extract(archive, partial)
        classes_root = image_folder_root(partial)
        if classes_root is None:
            raise DataDownloadError(f"{archive.name} does not hold Parasitized/ and Uninfected/ folders.")
        check_no_half_copy(out_dir)
        partial.rename(out_dir / "cell_images")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out_dir / "cell_images" / classes_root.relative_to(partial)
