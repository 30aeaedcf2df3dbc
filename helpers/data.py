"""Data sets and loaders, as notebook 03 built them.

* :func:`random_split` and :func:`patient_split` cut the images into train,
  validation and test indices; the patient split keeps every patient's cells in
  one part, so the test set measures how the model does on new patients.
* :func:`make_loaders` builds the cheat sheet's three loaders, done right:
  separate ``ImageFolder`` data sets with their own transforms over the same
  indices, each served by a ``SubsetRandomSampler``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, SubsetRandomSampler
from torchvision.datasets import ImageFolder

from helpers.transforms import eval_transforms, train_transforms

PATIENT_ID = re.compile(r"^(C\d+P\d+)", re.IGNORECASE)
VALID_FRACTION = 0.2
TEST_FRACTION = 0.1


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


def image_folder(root: str | Path, transform=None) -> ImageFolder:
    """Return ``ImageFolder(root, transform)``, with a clear error when the folder is not there."""
    root = Path(root)
    try:
        return ImageFolder(root, transform=transform)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise FileNotFoundError(
            f"No image classes found in {root}: expected one folder per class, such as "
            f"{root}/Parasitized/ and {root}/Uninfected/. Make synthetic data with "
            f"`python -m helpers data synthetic --out {root}` or download the real data with "
            "`python -m helpers data nih --out data`."
        ) from error


def patient_of(path: str | Path) -> str:
    """Return the patient (slide) id in an NIH-style file name.

    Example:
        >>> patient_of("C33P1thinF_IMG_20150619_114756a_cell_179.png")
        'C33P1'
    """
    match = PATIENT_ID.match(Path(path).name)
    return match.group(1).upper() if match else Path(path).stem


def random_split(count: int, seed: int = 0, valid_fraction: float = VALID_FRACTION,
                 test_fraction: float = TEST_FRACTION) -> Split:
    """Shuffle ``range(count)`` and cut it as the cheat sheet does: valid, then test, then train.

    Example:
        >>> random_split(10, seed=0).sizes()
        {'train': 7, 'valid': 2, 'test': 1}
    """
    indices = np.random.default_rng(seed).permutation(count).tolist()
    valid_end = int(np.floor(valid_fraction * count))
    test_end = int(np.floor((valid_fraction + test_fraction) * count))
    return Split(train=indices[test_end:], valid=indices[:valid_end], test=indices[valid_end:test_end])


def patient_split(samples: list[tuple[str, int]], positive_class: int = 0, seed: int = 0,
                  valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION) -> Split:
    """Split ``ImageFolder.samples`` so that each patient's images stay in one part.

    Infected and healthy patients are split separately, so every part gets both.
    """
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
    return Split(train=sorted(parts["train"]), valid=sorted(parts["valid"]), test=sorted(parts["test"]))


def make_loaders(root: str | Path, image_size: int, batch_size: int, split: str = "patient",
                 seed: int = 0, num_workers: int = 0, pin_memory: bool = False) -> Loaders:
    """Return train, validation and test loaders over the images in ``root``.

    The training data set augments; validation and test use the evaluation
    transforms. All three read the same files through their own indices.

    Example:
        >>> loaders = make_loaders("data/generated/synthetic_cells_48_seed0", 32, 16)  # doctest: +SKIP
        >>> images, labels = next(iter(loaders.train)); images.shape  # doctest: +SKIP
        torch.Size([16, 3, 32, 32])
    """
    train_data = image_folder(root, train_transforms(image_size))
    eval_data = image_folder(root, eval_transforms(image_size))
    if split == "patient":
        parts = patient_split(train_data.samples, train_data.class_to_idx.get("Parasitized", 0), seed)
    elif split == "random":
        parts = random_split(len(train_data), seed)
    else:
        raise ValueError(f"split must be 'patient' or 'random', not {split!r}")

    def loader(dataset: ImageFolder, indices: list[int], offset: int) -> DataLoader:
        sampler = SubsetRandomSampler(indices, generator=torch.Generator().manual_seed(seed + offset))
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                          pin_memory=pin_memory, persistent_workers=num_workers > 0)

    return Loaders(train=loader(train_data, parts.train, 0), valid=loader(eval_data, parts.valid, 1),
                   test=loader(eval_data, parts.test, 2), classes=train_data.classes, split=parts)
