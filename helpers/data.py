"""Data sets and loaders, as notebook 03 built them.

* :func:`random_split` and :func:`patient_split` cut the images into train,
  validation and test indices; the patient split keeps every patient's cells in
  one part, so the test set measures how the model does on new patients.
* :func:`make_loaders` builds the cheat sheet's three loaders, done right:
  separate ``ImageFolder`` data sets with their own transforms over the same
  indices, each served by a ``SubsetRandomSampler``.
* :func:`class_balance` and :func:`majority_baseline` say what share of a split
  each class has, and so the accuracy of always answering the most common class:
  the figure every accuracy is compared with.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, SubsetRandomSampler
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from helpers.folders import walk_class_folder
from helpers.image_files import load_image
from helpers.transforms import eval_transforms, train_transforms

SLIDE_ID = re.compile(r"^C(\d+)(P\d+)?(?!\d)", re.IGNORECASE)
"""The slide at the start of every NIH file name: ``C<n>`` and, for infected patients, ``P<m>``."""
VALID_FRACTION = 0.2
TEST_FRACTION = 0.1
MAX_SEARCH_DEPTH = 3
"""How deep below the given folder :func:`find_class_root` looks for the class folders."""
MIN_RANDOM_SPLIT_IMAGES = 10
"""The fewest images :func:`random_split` cuts into three non-empty parts (10% test)."""
MIN_PATIENT_SPLIT_PER_CLASS = 24
"""The fewest synthetic images per class whose patient split leaves every part non-empty (seeds 0 to 49 tried)."""


class UnreadableImagesError(ValueError):
    """Image files that cannot be decoded (truncated, empty, or not images): found before training."""


@dataclass(frozen=True)
class Split:
    """Indices into one ``ImageFolder``: train, validation and test."""

    train: list[int]
    valid: list[int]
    test: list[int]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


@dataclass
class Loaders:
    """The three loaders of the cheat sheet, with the class names and the split they serve."""

    train: DataLoader
    valid: DataLoader
    test: DataLoader
    classes: list[str]
    split: Split


def is_hidden(name: str) -> bool:
    """Whether a file or folder name is hidden or system clutter, never a class or a sample.

    Example:
        >>> [is_hidden(n) for n in (".ipynb_checkpoints", "._cell.png", "__MACOSX", "Parasitized")]
        [True, True, True, False]
    """
    return name.startswith((".", "__"))


def _is_image_name(name: str) -> bool:
    return not is_hidden(name) and name.lower().endswith(IMG_EXTENSIONS)


def _visible_folders(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if entry.is_dir() and not is_hidden(entry.name))


def _holds_images_directly(folder: Path) -> bool:
    return any(entry.is_file() and _is_image_name(entry.name) for entry in folder.iterdir())


def _holds_images(folder: Path) -> bool:
    """Whether ``folder`` or a visible folder below it holds an image file (links walked as for the samples)."""
    walk = walk_class_folder(str(folder), str(folder.parent), is_hidden)
    return any(_is_image_name(name) for _, files in walk.folders for name in files)


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
    if any(_holds_images_directly(folder) for folder in _visible_folders(root)):
        return root
    candidates, frontier = [], [root]
    for _ in range(MAX_SEARCH_DEPTH):
        frontier = [sub for folder in frontier for sub in _visible_folders(folder)]
        candidates = [folder for folder in frontier
                      if any(_holds_images_directly(sub) for sub in _visible_folders(folder))]
        if candidates:
            break
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise FileNotFoundError(f"{root} holds several folders of class folders: "
                                f"{', '.join(str(c) for c in candidates[:5])}. Pass the one you mean.")
    if _holds_images_directly(root):
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
        classes = [folder.name for folder in _visible_folders(Path(directory))]
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


def _visible_image_under(root: Path) -> Callable[[str], bool]:
    """Return a test for ``is_valid_file``: an image file with no hidden folder between it and ``root``."""
    def is_valid(path: str) -> bool:
        return _is_image_name(Path(path).name) and not any(
            is_hidden(part) for part in Path(path).relative_to(root).parts)

    return is_valid


def image_folder(root: str | Path, transform=None) -> ImageFolder:
    """Return an ``ImageFolder`` over the class folders in (or just below) ``root``, hidden files left out.

    Each file is decoded by :func:`helpers.image_files.load_image`, the decoder
    prediction uses too, so a file gives the same pixels in training and in
    prediction (EXIF rotation applied, transparency on black, 16-bit scaled).

    Raises ``FileNotFoundError`` with what to do when there are no class folders
    or a class folder holds no images.

    Example:
        >>> image_folder("data/generated/synthetic_cells_48_seed0").classes  # doctest: +SKIP
        ['Parasitized', 'Uninfected']
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"No image classes found in {root}: {'it is a file' if root.exists() else 'there is no such folder'}. "
            f"Expected one folder per class, such as {root}/Parasitized/ and {root}/Uninfected/. Make synthetic "
            f"data with `python -m helpers data synthetic --out {root}` or download the real data with "
            "`python -m helpers data nih --out data`.")
    class_root = find_class_root(root)
    empty = [folder for folder in _visible_folders(class_root) if not _holds_images(folder)]
    if empty:
        raise FileNotFoundError(f"The class folder {empty[0]} holds no images ({IMG_EXTENSIONS[:4]} ... files): "
                                "put its images there, or remove the folder if it is not a class.")
    return VisibleImageFolder(class_root, transform=transform, loader=load_image,
                              is_valid_file=_visible_image_under(class_root))


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


def patient_of(path: str | Path) -> str:
    """Return the slide (one per patient) an NIH file name starts with; other names are their own slide.

    The real file names come in several forms: ``C33P1thinF_...``,
    ``C39P4thinF_original_...``, ``C68P29N_ThinF_...`` and ``C183P144NThinF_...``
    (infected patients, ``C<slide>P<patient>``), and ``C1_thinF_...``,
    ``C3thin_original_...``, ``C2NThinF_...`` and ``C230ThinF_...`` (healthy
    ones, ``C<slide>``). Cells of one slide can sit in both class folders.

    Example:
        >>> patient_of("C33P1thinF_IMG_20150619_114756a_cell_179.png")
        'C33P1'
        >>> patient_of("Uninfected/C1_thinF_IMG_20150604_104722_cell_9.png")
        'C1'
    """
    name = Path(path).name
    match = SLIDE_ID.match(name)
    if match is None:
        return Path(name).stem
    slide, patient = match.groups()
    return f"C{int(slide)}" + (f"P{int(patient[1:])}" if patient else "")


def check_fractions(valid_fraction: float, test_fraction: float) -> None:
    """Raise ``ValueError`` unless both fractions are numbers from 0 to 1 that sum to less than 1.

    Example:
        >>> check_fractions(0.2, 0.1)
    """
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"{name} must be a number from 0 to below 1 (a share of the images, such as 0.2), "
                             f"got {value!r}.")
    if valid_fraction + test_fraction >= 1:
        raise ValueError(f"valid_fraction + test_fraction is {valid_fraction + test_fraction:g}: it must stay below "
                         "1, so that some images are left to train on (the cheat sheet uses 0.2 and 0.1).")


def random_split(count: int, seed: int = 0, valid_fraction: float = VALID_FRACTION,
                 test_fraction: float = TEST_FRACTION) -> Split:
    """Shuffle ``range(count)`` and cut it as the cheat sheet does: valid, then test, then train.

    Example:
        >>> random_split(10, seed=0).sizes()
        {'train': 7, 'valid': 2, 'test': 1}
    """
    check_fractions(valid_fraction, test_fraction)
    indices = np.random.default_rng(seed).permutation(count).tolist()
    valid_end = int(np.floor(valid_fraction * count))
    test_end = int(np.floor((valid_fraction + test_fraction) * count))
    return Split(train=indices[test_end:], valid=indices[:valid_end], test=indices[valid_end:test_end])


def patient_split(samples: list[tuple[str, int]], positive_class: int = 0, seed: int = 0,
                  valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION) -> Split:
    """Split ``ImageFolder.samples`` so that each patient's images stay in one part.

    Infected and healthy patients are split separately, so every part gets both.
    """
    check_fractions(valid_fraction, test_fraction)
    by_patient: dict[str, list[int]] = {}
    for index, (path, _) in enumerate(samples):
        by_patient.setdefault(patient_of(path), []).append(index)
    infected = {p for p, idx in by_patient.items() if any(samples[i][1] == positive_class for i in idx)}
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"valid": [], "test": [], "train": []}
    for group in (sorted(infected), sorted(set(by_patient) - infected)):
        total, taken = sum(len(by_patient[p]) for p in group), {"valid": 0, "test": 0, "train": 0}
        for order, patient in enumerate(rng.permutation(group).tolist()):
            # the first two patients of each group go to validation and test, so that even
            # a small data set has both classes in every part
            if order == 0 or (order > 1 and taken["valid"] < valid_fraction * total):
                part = "valid"
            elif order == 1 or taken["test"] < test_fraction * total:
                part = "test"
            else:
                part = "train"
            parts[part] += by_patient[patient]
            taken[part] += len(by_patient[patient])
    split = Split(train=sorted(parts["train"]), valid=sorted(parts["valid"]), test=sorted(parts["test"]))
    if not all(split.sizes().values()):
        healthy = len(by_patient) - len(infected)
        raise ValueError(
            f"A patient split of {len(samples)} images from {len(infected)} infected and {healthy} healthy "
            f"patients leaves a part empty ({split.sizes()}): it needs at least 3 patients of each kind, and "
            f"enough images that validation ({valid_fraction:.0%}) and test ({test_fraction:.0%}) leave some to "
            f"train on. Use more images (synthetic data: at least {MIN_PATIENT_SPLIT_PER_CLASS} per class) "
            "or split='random'.")
    return split


def label_counts(labels: Sequence[int] | torch.Tensor) -> Counter[int]:
    """Count how often each label occurs; ``labels`` is a sequence of ints or a tensor.

    Example:
        >>> label_counts(torch.tensor([0, 1, 1]))
        Counter({1: 2, 0: 1})
    """
    values = labels.flatten().tolist() if isinstance(labels, torch.Tensor) else list(labels)
    if not values:
        raise ValueError("No labels given: a class balance needs at least one label.")
    return Counter(int(value) for value in values)


def class_balance(labels: Sequence[int] | torch.Tensor, classes: Sequence[str]) -> dict[str, float]:
    """Return the share of each class among ``labels`` (label ``i`` is ``classes[i]``).

    Example:
        >>> class_balance([0, 1, 1, 1], ["Parasitized", "Uninfected"])
        {'Parasitized': 0.25, 'Uninfected': 0.75}
    """
    counts = label_counts(labels)
    unknown = sorted(label for label in counts if not 0 <= label < len(classes))
    if unknown:
        raise ValueError(f"Labels {unknown} have no class: expected labels 0 to {len(classes) - 1} "
                         f"for the classes {list(classes)}.")
    total = sum(counts.values())
    return {name: counts[index] / total for index, name in enumerate(classes)}


def majority_baseline(labels: Sequence[int] | torch.Tensor) -> float:
    """Return the share of the most common label: the accuracy of always answering that class.

    A model is only useful above this figure.

    Example:
        >>> majority_baseline([0, 1, 1, 1])
        0.75
    """
    counts = label_counts(labels)
    return max(counts.values()) / sum(counts.values())


def available_workers(cap: int = 8) -> int:
    """Return how many loader worker processes this machine can run: its usable CPU cores, at most ``cap``.

    Colab gives 2 cores, Kaggle 4; the main process mostly waits for the GPU, so
    every core can decode and transform images.

    Example:
        >>> 1 <= available_workers() <= 8
        True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cap, cores))


def make_loaders(root: str | Path, image_size: int, batch_size: int, split: str = "patient",
                 seed: int = 0, num_workers: int | None = 0, pin_memory: bool = False,
                 valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION) -> Loaders:
    """Return train, validation and test loaders over the images in ``root``.

    The training data set augments; validation and test use the evaluation
    transforms. All three read the same files through their own indices,
    cut by ``split`` (``"patient"`` or ``"random"``) with the given fractions.
    ``num_workers`` processes load batches in parallel (``None``: one per CPU
    core, see :func:`available_workers`) and stay alive between epochs;
    ``pin_memory=True`` (for a CUDA GPU) makes copies to the GPU faster.

    Example:
        >>> loaders = make_loaders("data/generated/synthetic_cells_48_seed0", 32, 16)  # doctest: +SKIP
        >>> images, labels = next(iter(loaders.train)); images.shape  # doctest: +SKIP
        torch.Size([16, 3, 32, 32])
    """
    train_data = image_folder(root, train_transforms(image_size))
    eval_data = image_folder(root, eval_transforms(image_size))
    check_images([path for path, _ in train_data.samples])
    if split == "patient":
        parts = patient_split(train_data.samples, train_data.class_to_idx.get("Parasitized", 0), seed,
                              valid_fraction, test_fraction)
    elif split == "random":
        parts = random_split(len(train_data), seed, valid_fraction, test_fraction)
    else:
        raise ValueError(f"split must be 'patient' or 'random', not {split!r}")
    if not all(parts.sizes().values()):
        raise ValueError(f"{len(train_data)} images are too few to split: {parts.sizes()}. Use at least "
                         f"{MIN_RANDOM_SPLIT_IMAGES} images.")

    workers = available_workers() if num_workers is None else num_workers

    def loader(dataset: ImageFolder, indices: list[int], offset: int) -> DataLoader:
        sampler = SubsetRandomSampler(indices, generator=torch.Generator().manual_seed(seed + offset))
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                          pin_memory=pin_memory, persistent_workers=workers > 0)

    return Loaders(train=loader(train_data, parts.train, 0), valid=loader(eval_data, parts.valid, 1),
                   test=loader(eval_data, parts.test, 2), classes=train_data.classes, split=parts)
