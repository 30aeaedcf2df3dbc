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
* :func:`image_folder` is ``ImageFolder`` over a folder of class folders; the
  machinery that makes it safe on any folder (hidden files, links, damaged
  images) lives in :mod:`helpers.folders`, and its decoder in :mod:`helpers.image_files`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, SubsetRandomSampler
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from helpers.folders import (
    UnreadableImagesError,
    VisibleImageFolder,
    check_images,
    find_class_root,
    holds_images,
    visible_folders,
    visible_image_under,
)
from helpers.image_files import load_image
from helpers.transforms import eval_transforms, train_transforms

__all__ = ["DecodedImages", "Loaders", "Split", "UnreadableImagesError", "available_workers", "check_fractions",
           "class_balance", "image_folder", "label_counts", "majority_baseline", "make_loaders", "patient_of",
           "patient_split", "random_split"]

SLIDE_ID = re.compile(r"^C(\d+)(P\d+)?(?!\d)", re.IGNORECASE)
"""The slide at the start of every NIH file name: ``C<n>`` and, for infected patients, ``P<m>``."""
VALID_FRACTION = 0.2
TEST_FRACTION = 0.1
MIN_RANDOM_SPLIT_IMAGES = 10
"""The fewest images :func:`random_split` cuts into three non-empty parts (10% test)."""
MIN_PATIENT_SPLIT_PER_CLASS = 24
"""The fewest synthetic images per class whose patient split leaves every part non-empty (seeds 0 to 49 tried)."""


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


class DecodedImages:
    """A loader for :func:`image_folder` that decodes each file once and keeps the image in memory.

    Decoding a file takes about as long as the training transforms that follow it,
    so a small data set read for many epochs spends much of each epoch decoding the
    same files again. Every later read of a file returns the image decoded the first
    time: the same pixels, so training is unchanged, only faster. The memory grows
    with the data set (the ``class`` preset's 2,800 synthetic cells take about 200 MB);
    leave it off for large ones such as the real NIH data.

    Example:
        >>> decoded = DecodedImages()
        >>> train_data = image_folder("data/generated/synthetic_cells_48_seed0", loader=decoded)  # doctest: +SKIP
    """

    def __init__(self, decode: Callable[[str], Image.Image] = load_image) -> None:
        self.decode = decode
        self.images: dict[str, Image.Image] = {}

    def __call__(self, path: str) -> Image.Image:
        if path not in self.images:
            self.images[path] = self.decode(path)
        return self.images[path]


def image_folder(root: str | Path, transform=None, loader: Callable[[str], Image.Image] = load_image) -> ImageFolder:
    """Return an ``ImageFolder`` over the class folders in (or just below) ``root``, hidden files left out.

    Each file is decoded by :func:`helpers.image_files.load_image`, the decoder
    prediction uses too, so a file gives the same pixels in training and in
    prediction (EXIF rotation applied, transparency on black, 16-bit scaled).
    ``loader`` replaces it, for instance by a :class:`DecodedImages` that decodes
    each file once.

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
    empty = [folder for folder in visible_folders(class_root) if not holds_images(folder)]
    if empty:
        raise FileNotFoundError(f"The class folder {empty[0]} holds no images ({IMG_EXTENSIONS[:4]} ... files): "
                                "put its images there, or remove the folder if it is not a class.")
    return VisibleImageFolder(class_root, transform=transform, loader=loader,
                              is_valid_file=visible_image_under(class_root))


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


def is_whole_number(value: object) -> bool:
    """Whether ``value`` is an integer (Python's or numpy's), and not a bool.

    Example:
        >>> is_whole_number(3), is_whole_number(np.int64(3)), is_whole_number(3.0), is_whole_number(True)
        (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def random_split(count: int, seed: int = 0, valid_fraction: float = VALID_FRACTION,
                 test_fraction: float = TEST_FRACTION) -> Split:
    """Shuffle ``range(count)`` and cut it as the cheat sheet does: valid, then test, then train.

    Example:
        >>> random_split(10, seed=0).sizes()
        {'train': 7, 'valid': 2, 'test': 1}
    """
    if not is_whole_number(count) or count < 0:
        raise ValueError(f"count must be a whole number of images, 0 or more (len(dataset)), got {count!r}.")
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
                 valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION,
                 cache_images: bool = False) -> Loaders:
    """Return train, validation and test loaders over the images in ``root``.

    The training data set augments; validation and test use the evaluation
    transforms. All three read the same files through their own indices,
    cut by ``split`` (``"patient"`` or ``"random"``) with the given fractions.
    ``num_workers`` processes load batches in parallel (``None``: one per CPU
    core, see :func:`available_workers`) and stay alive between epochs;
    ``pin_memory=True`` (for a CUDA GPU) makes copies to the GPU faster.
    ``cache_images=True`` decodes each file once and keeps it in memory
    (:class:`DecodedImages`): the same batches, faster, for data sets that fit.

    Example:
        >>> loaders = make_loaders("data/generated/synthetic_cells_48_seed0", 32, 16)  # doctest: +SKIP
        >>> images, labels = next(iter(loaders.train)); images.shape  # doctest: +SKIP
        torch.Size([16, 3, 32, 32])
    """
    for name, value in (("image_size", image_size), ("batch_size", batch_size)):
        if not is_whole_number(value) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1 (the course uses image_size=64, "
                             f"batch_size=32), got {value!r}.")
    decoder = DecodedImages() if cache_images else load_image
    train_data = image_folder(root, train_transforms(image_size), decoder)
    eval_data = image_folder(root, eval_transforms(image_size), decoder)
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
