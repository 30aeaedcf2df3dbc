"""Crash-safe writing of a generated data set folder, and the rule that protects everyone else's folders.

The machinery behind :mod:`helpers.synthetic` that draws no cell: :func:`png_bytes`
encodes an image fast, :func:`remember_parent` and :func:`stop_if_orphaned` end a
worker whose command was killed, and the rest writes and replaces the folder.

:func:`helpers.synthetic.make_synthetic_cells` draws its images into a
temporary folder beside the target and moves it into place at the end, so an
interrupted run never leaves half a data set (the next run removes what a
killed one left, see :func:`leftover_pattern`). It replaces a folder only when
:func:`check_replaceable` finds it is one the course wrote: ``synthetic.json``
(:data:`MANIFEST_NAME`), the two class folders and exactly the images it
wrote, nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

from helpers.nih import CLASSES
from helpers.safe_files import sync_folder

MANIFEST_NAME = "synthetic.json"
"""The course's marker: only a folder holding it (and nothing else of anyone's) is ever replaced."""
GENERATED_NAME = re.compile(r"^C\d+P\d+thinF_IMG_\d{8}_\d{6}_cell_\d+\.png$")
"""The names ``helpers.synthetic`` gives its images; any other file in a class folder is someone else's."""
SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}
"""Files a file browser drops into any folder it shows: they do not make a folder someone else's."""
_parent_pid: int | None = None
"""In a worker process: the process that started it. A worker whose parent has died stops drawing."""


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB ``uint8`` array of shape (H, W, 3) as a PNG file's bytes.

    A standard PNG (readable by PIL, browsers, ImageFolder): unfiltered rows
    compressed with fast zlib. Pillow's encoder tries a filter for every row,
    which makes it about five times slower for these small images.
    """
    height, width, _ = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + chunk(b"IEND", b""))


def remember_parent() -> None:
    """Worker initializer: note the parent, so that the worker stops if the parent is killed."""
    global _parent_pid
    _parent_pid = os.getppid()


def stop_if_orphaned() -> None:
    """In a worker whose parent (the command that started it) is gone, end the process at once.

    Nobody will use its images, and no new task will come, so the worker leaves
    rather than wait for one forever.
    """
    if _parent_pid is not None and os.getppid() != _parent_pid:
        os._exit(0)



class NotACourseFolderError(ValueError):
    """A folder the course did not make: it is never deleted or replaced."""


def is_course_manifest(path: Path) -> bool:
    """Whether ``path`` is a ``synthetic.json`` this module wrote."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and {"per_class", "seed", "image_size", "version"} <= set(manifest)


def check_replaceable(root: Path) -> None:
    """Raise :class:`NotACourseFolderError` unless ``root`` is absent, empty or a data set this module made.

    A folder it made holds ``synthetic.json``, the class folders and exactly
    the PNG files it wrote in them, and nothing else: anything more (a thesis,
    a checkout, a learner's own images) is kept, and the command refuses.
    """
    if not root.exists():
        return
    if not root.is_dir():
        raise NotACourseFolderError(f"{root} is a file, not a folder: choose a folder for the images, "
                                    f"e.g. {root.parent / 'synthetic_cells'}.")
    entries = sorted(root.iterdir())
    if not entries:
        return
    foreign = [entry.name for entry in entries if entry.name not in (*CLASSES, MANIFEST_NAME, *SYSTEM_FILES)
               or (entry.name in CLASSES and not entry.is_dir())]
    images = 0
    for folder in (root / name for name in CLASSES if (root / name).is_dir()):
        for entry in sorted(folder.iterdir()):
            if GENERATED_NAME.match(entry.name) and entry.is_file():
                images += 1
            elif entry.name not in SYSTEM_FILES:
                foreign.append(f"{folder.name}/{entry.name}")
    if not foreign and is_course_manifest(root / MANIFEST_NAME):
        made = json.loads((root / MANIFEST_NAME).read_text())["per_class"]
        if images == 2 * made:  # an image added by hand, with a name like ours, changes the count
            return
        foreign.append(f"{images} images where the generator wrote {2 * made}")
    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    raise NotACourseFolderError(
        f"{root} is not empty and the course did not make it"
        + (f" (it holds {shown})" if shown else f" (it has no {MANIFEST_NAME})")
        + ". Nothing was changed: the course only replaces a folder of synthetic images it wrote. "
        f"Choose a new or empty folder, e.g. --out {root / 'synthetic_cells'}.")


def leftover_pattern(root: Path) -> re.Pattern[str]:
    """Temporary folders of an interrupted run for ``root``: ``.cells.partial-<pid>-...``, ``.cells.old-<pid>-...``."""
    return re.compile(rf"^\.{re.escape(root.name)}\.(partial|old)-(?P<pid>\d+)-")


def move_into_place(partial: Path, root: Path) -> None:
    """Rename ``partial`` to ``root``; an old ``root`` is renamed aside first and deleted last.

    The images are flushed to disk before the rename, and the rename after it,
    so that a power cut never leaves ``root`` naming files whose bytes were lost.
    """
    if hasattr(os, "sync"):  # POSIX: one call flushes every image, cheaper than an fsync per file
        os.sync()
    if root.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-{os.getpid()}-", dir=root.parent))
        os.replace(root, old)  # old is an empty folder: renaming over it is allowed
        partial.rename(root)
        sync_folder(root.parent)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(root)
        sync_folder(root.parent)
