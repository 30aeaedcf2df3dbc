"""Class folders on disk: found, walked without loops, duplicates or borrowed labels, and their images checked.

This is the machinery behind :func:`helpers.data.image_folder` that notebook 03
does not show: hidden files and folders (``.ipynb_checkpoints/``) are never
classes or samples (:func:`is_hidden`), the folder of class folders is found
one or more levels down (:func:`find_class_root`), :class:`VisibleImageFolder`
walks each class folder safely, and :func:`check_images` names the files that
cannot be decoded before any training starts.

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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

MAX_SEARCH_DEPTH = 3
"""How deep below the given folder :func:`find_class_root` looks for the class folders."""


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
        >>> walk = walk_class_folder("data/cells/Parasitized", "data/cells",
        ...                          lambda name: name.startswith("."))  # doctest: +SKIP
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


class UnreadableImagesError(ValueError):
    """Image files that cannot be decoded (truncated, empty, or not images): found before training."""




def is_hidden(name: str) -> bool:
    """Whether a file or folder name is hidden or system clutter, never a class or a sample.

    Example:
        >>> [is_hidden(n) for n in (".ipynb_checkpoints", "._cell.png", "__MACOSX", "Parasitized")]
        [True, True, True, False]
    """
    return name.startswith((".", "__"))


def is_image_name(name: str) -> bool:
    return not is_hidden(name) and name.lower().endswith(IMG_EXTENSIONS)


def visible_folders(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if entry.is_dir() and not is_hidden(entry.name))


def holds_images_directly(folder: Path) -> bool:
    return any(entry.is_file() and is_image_name(entry.name) for entry in folder.iterdir())


def holds_images(folder: Path) -> bool:
    """Whether ``folder`` or a visible folder below it holds an image file (links walked as for the samples)."""
    walk = walk_class_folder(str(folder), str(folder.parent), is_hidden)
    return any(is_image_name(name) for _, files in walk.folders for name in files)


def find_class_root(root: str | Path) -> Path:
    """Return the folder whose subfolders are the classes: ``root``, or the one folder below it that is.

    A learner who points at ``data/`` instead of ``data/cell_images/`` gets the
    folder below; hidden folders (``.ipynb_checkpoints``) are never classes.

    Raises:
        FileNotFoundError: no folder of class folders, or several, saying which.

    Example:
        >>> find_class_root("data").name  # doctest: +SKIP
        'cell_images'
    """
    root = Path(root)
    if any(holds_images_directly(folder) for folder in visible_folders(root)):
        return root
    candidates, frontier = [], [root]
    for _ in range(MAX_SEARCH_DEPTH):
        frontier = [sub for folder in frontier for sub in visible_folders(folder)]
        candidates = [folder for folder in frontier
                      if any(holds_images_directly(sub) for sub in visible_folders(folder))]
        if candidates:
            break
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise FileNotFoundError(f"{root} holds several folders of class folders: "
                                f"{', '.join(str(c) for c in candidates[:5])}. Pass the one you mean.")
    if holds_images_directly(root):
        raise FileNotFoundError(f"{root} holds images but no class folders: ImageFolder takes the label of an "
                                f"image from its folder's name. Pass the folder above ({root.parent}) if "
                                f"{root.name} is one class, or sort the images into one folder per class.")
    raise FileNotFoundError(
        f"No image classes found in {root}: expected one folder per class, such as "
        f"{root}/Parasitized/ and {root}/Uninfected/. Make synthetic data with "
        f"`python -m helpers data synthetic --out {root}` or download the real data with "
        "`python -m helpers data nih --out data`.")


class VisibleImageFolder(ImageFolder):
    """``ImageFolder`` that skips hidden files and folders (``.ipynb_checkpoints/``, ``._cell.png``).

    It walks each class folder with :func:`helpers.folders.walk_class_folder`: a
    link never repeats images or loops, and a link into another class folder is
    skipped with a warning instead of lending that class's images this label.
    """

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        classes = [folder.name for folder in visible_folders(Path(directory))]
        return classes, {name: index for index, name in enumerate(classes)}

    @staticmethod
    def make_dataset(directory: str | Path, class_to_idx: dict[str, int], extensions: tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        is_valid = is_valid_file or (lambda path: path.lower().endswith(extensions or IMG_EXTENSIONS))
        samples, skipped = [], []
        for name in sorted(class_to_idx):
            walk = walk_class_folder(os.path.join(directory, name), str(directory), is_hidden)
            skipped += walk.skipped_links
            found = [(path, class_to_idx[name]) for folder, files in walk.folders for file_name in files
                     if is_valid(path := os.path.join(folder, file_name))]
            if not found and not allow_empty:
                raise FileNotFoundError(f"The class folder {os.path.join(directory, name)} holds no images: put "
                                        "its images there, or remove the folder if it is not a class.")
            samples += found
        if skipped:
            warnings.warn(f"{len(skipped)} link(s) in the class folders point into another class folder and were "
                          f"skipped, so no image gets another class's label: {'; '.join(skipped[:3])}"
                          f"{' ...' if len(skipped) > 3 else ''}. Copy the images you mean into their class folder.",
                          stacklevel=2)
        return samples


def visible_image_under(root: Path) -> Callable[[str], bool]:
    """Return a test for ``is_valid_file``: an image file with no hidden folder between it and ``root``."""
    def is_valid(path: str) -> bool:
        return is_image_name(Path(path).name) and not any(
            is_hidden(part) for part in Path(path).relative_to(root).parts)

    return is_valid




def unreadable_images(paths: list[str]) -> list[str]:
    """Return the paths among ``paths`` that do not decode as images (truncated, empty, not an image).

    PNG files are checked chunk by chunk (fast, no decoding); other formats are decoded.

    Example:
        >>> unreadable_images(["cell.png"])  # doctest: +SKIP
        []
    """
    bad = []
    for path in paths:
        try:
            with Image.open(path) as image:
                if image.format == "PNG":
                    image.verify()
                else:
                    image.load()
        except Exception:  # PIL reports damage with many exception types
            bad.append(path)
    return bad


def check_images(paths: list[str]) -> None:
    """Raise :class:`UnreadableImagesError` naming the files that cannot be read, before any training."""
    bad = unreadable_images(paths)
    if bad:
        shown = "\n  ".join(bad[:5]) + (f"\n  ... and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UnreadableImagesError(f"{len(bad)} of {len(paths)} image files cannot be read (truncated, empty "
                                    f"or not images):\n  {shown}\nDelete or replace them, then run this again.")
