"""Walking a class folder without loops, duplicates or borrowed labels.

``ImageFolder`` labels an image by the class folder it sits in, and walks
that folder with ``os.walk(followlinks=True)``. Links make that go wrong: a link
back to its own folder (``a -> .``) repeats every image (one such link turned 12
files into 492 samples), two of them make the walk branch without end, and a
link to the other class serves that class's images under this class's label.

:func:`walk_class_folder` follows links only where they add images: a link
into a folder already walked, or into its own class folder (walked anyway), is
skipped, and a link into another class folder is skipped with a note saying
so. A link to a folder outside the data set is followed, once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class ClassFolderWalk:
    """What :func:`walk_class_folder` found: ``(folder, file names)`` pairs, and links it did not follow."""

    folders: list[tuple[str, list[str]]] = field(default_factory=list)
    skipped_links: list[str] = field(default_factory=list)
    """One line per link into another class folder: its path and the class it points into."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def walk_class_folder(class_dir: str, data_root: str, is_hidden: Callable[[str], bool]) -> ClassFolderWalk:
    """Return the folders under ``class_dir`` (as ``os.walk`` names them) with their file names.

    Every real folder is walked once; hidden folders are left out. Links are
    followed only to folders and files outside ``data_root``; a link into
    another class folder is skipped and listed in ``skipped_links``.

    Example:
        >>> walk = walk_class_folder("data/cells/Parasitized", "data/cells", lambda name: name.startswith("."))  # doctest: +SKIP
        >>> walk.folders[0]  # doctest: +SKIP
        ('data/cells/Parasitized', ['C1P0_cell_1.png', 'C1P0_cell_2.png'])
    """
    own, root = Path(class_dir).resolve(), Path(data_root).resolve()
    walk, seen, pending = ClassFolderWalk(), {own}, [class_dir]
    while pending:
        folder = pending.pop()
        files = []
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda item: item.name):
                if is_hidden(entry.name):
                    continue
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if not target.exists() or _inside(target, own) or target in seen:
                        continue  # broken, or images this walk reaches anyway: following would repeat them
                    if _inside(target, root) or _inside(root, target):
                        other = target.relative_to(root).parts[0] if target != root and _inside(target, root) \
                            else "a folder holding the whole data set"
                        walk.skipped_links.append(f"{entry.path} -> {target} (points into {other})")
                        continue
                if entry.is_dir():
                    real = Path(entry.path).resolve()
                    if real not in seen:
                        seen.add(real)
                        pending.append(entry.path)
                elif entry.is_file():
                    if entry.is_symlink():
                        seen.add(Path(entry.path).resolve())  # a second link to the same image is skipped
                    files.append(entry.name)
        walk.folders.append((folder, files))
    walk.folders.sort()
    return walk
