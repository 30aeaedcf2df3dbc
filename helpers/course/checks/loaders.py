"""Checks for the exercises of notebook 03, datasets and loaders."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from helpers.course.checks import Verdict, as_number, call_learner_function, exercise_check, kind_of, number_problem
from helpers.data import Split, patient_of
from helpers.transforms import eval_transforms

PIXEL_TOLERANCE = 0.02
"""The mean difference allowed from the reference decoding, in normalised units (two pictures differ by about 0.7)."""


def _sample_files(folder: Path) -> list[tuple[str, int]]:
    """Write three small cell pictures (RGB, grayscale, RGBA, as real folders hold) and return (path, label)."""
    rng = np.random.default_rng(0)
    samples = []
    for index, (mode, label) in enumerate([("RGB", 0), ("L", 1), ("RGBA", 1)]):
        pixels = rng.integers(0, 256, size=(12, 10, 4), dtype=np.uint8)
        path = folder / f"C{index}P{index}_cell_{index}.png"
        Image.fromarray(pixels, "RGBA").convert(mode).save(path)
        samples.append((str(path), label))
    return samples


def _item_problem(item: object, index: int, samples: list[tuple[str, int]],
                  transform: Callable[[Image.Image], torch.Tensor]) -> str:
    """Return what is wrong with ``dataset[index]`` (``item``), or ``""``."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return f"dataset[{index}] gives {kind_of(item)}; __getitem__ should return a pair: (image, label)."
    image, label = item
    if as_number(image) is not None:
        return "the pair is the wrong way round: return (image, label), the image first, as ImageFolder does."
    if isinstance(image, (str, Path)):
        return "that returns the path; open the picture: Image.open(path).convert('RGB'), then the transform."
    if isinstance(image, Image.Image):
        return "the image is still a PIL picture: apply self.transform to it before returning it."
    if not isinstance(image, torch.Tensor):
        return f"the image should be the transformed tensor, got {kind_of(image)}."
    if image.shape[0] != 3:
        return (f"sample {index} is a {Image.open(samples[index][0]).mode} picture and gives {image.shape[0]} "
                "channel(s): convert every picture with .convert('RGB') so that each one has 3.")
    if as_number(label) != samples[index][1]:
        return f"sample {index}'s label should be {samples[index][1]} (the number stored with its path), got {label!r}."
    expected = transform(Image.open(samples[index][0]).convert("RGB"))
    # Decoders and resizers round differently (PIL against torchvision.io, uint8 against float): allow that,
    # which is far below the difference between two pictures.
    if image.shape != expected.shape or (image.float() - expected).abs().mean() > PIXEL_TOLERANCE:
        return "the image is not the transformed picture of its own path: open samples[index]'s path."
    return ""


@exercise_check
def cell_dataset(answer: object) -> Verdict:
    """The answer is a Dataset class: ``CellDataset(samples, transform)`` over (path, label) pairs."""
    if not isinstance(answer, type):
        return False, f"expected the class itself (class CellDataset(Dataset): ...), got {kind_of(answer)}."
    transform = eval_transforms(8)
    with tempfile.TemporaryDirectory() as folder:
        samples = _sample_files(Path(folder))
        dataset: Any  # the learner's object, used as a DataLoader uses it: by its __len__ and __getitem__
        dataset, failure = call_learner_function(answer, samples, transform)
        if failure:
            return False, f"making {answer.__name__}(samples, transform) failed: {failure}."
        try:
            length = len(dataset)
        except TypeError:
            return False, "len(dataset) fails: define __len__(self) returning len(self.samples)."
        if length != len(samples):
            return False, f"len(dataset) is {length} for {len(samples)} samples: return len(self.samples)."
        for index in range(len(samples)):
            item, failure = call_learner_function(dataset.__getitem__, index)
            mode = Image.open(samples[index][0]).mode
            if failure and mode != "RGB":
                return False, (f"dataset[{index}] failed: {failure}. That sample is a {mode} picture, not RGB: "
                               "convert every picture with .convert('RGB') so that each one has 3 channels.")
            if failure:
                return False, f"dataset[{index}] failed: {failure}."
            problem = _item_problem(item, index, samples, transform)
            if problem:
                return False, problem
        images, labels = next(iter(DataLoader(dataset, batch_size=len(samples))))
    if tuple(images.shape) != (len(samples), 3, 8, 8) or labels.tolist() != [label for _, label in samples]:
        return False, "a DataLoader cannot batch it: return (image tensor, label number) from __getitem__."
    return True, ""


@exercise_check
def shared_patients(answer: object, files: list[str], split: Split) -> Verdict:
    """The answer is how many patients have cells in both ``split.train`` and ``split.test``."""
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "a whole number (how many patients)")
    patients = {part: {patient_of(files[i]) for i in getattr(split, part)} for part in ("train", "valid", "test")}
    expected = len(patients["train"] & patients["test"])
    if value == expected:
        return True, ""
    cells_of_shared = sum(1 for i in split.test if patient_of(files[i]) in patients["train"])
    if value == cells_of_shared:
        return False, "that counts test cells; count patients: put patient_of(name) of each part in a set first."
    if value == len(patients["train"] & patients["valid"]):
        return False, "that is train against validation; the exercise compares train with test."
    if value == len(patients["test"]):
        return False, "that is every test patient; keep only those who also have cells in train (a set intersection &)."
    if value == 0:
        return False, ("a random split cuts cells, not patients, so it leaks: count the patients whose cells "
                       "landed in both train and test.")
    return False, (f"got {value:g}; make the set of patient_of(files[i]) for i in split.train, the same for "
                   "split.test, and count their intersection.")


def _order(loader: Iterable[object]) -> list[int]:
    """Return the order in which ``loader`` serves the numbers 0..n-1 of the check's data set."""
    order: list[int] = []
    for batch in loader:
        values = batch[0] if isinstance(batch, (tuple, list)) else batch
        order.extend(int(value) for value in torch.as_tensor(values).reshape(-1))
    return order


@exercise_check
def seeded_loader(answer: object) -> Verdict:
    """The answer is ``seeded_loader(dataset, seed)``: a shuffling DataLoader whose order depends on ``seed`` alone.

    The check makes loaders over 20 numbers, moves the global random generator between making and
    using them (as any other cell does), and compares: same seed, same order; another seed, another order.
    """
    if not callable(answer) or isinstance(answer, DataLoader):
        return False, f"expected your function itself (answer_seeded_loader = seeded_loader), got {kind_of(answer)}."
    numbers = TensorDataset(torch.arange(20))
    orders: dict[str, list[int]] = {}
    for name, seed, global_seed in (("first", 0, 123), ("again", 0, 456), ("other", 1, 123)):
        loader, problem = call_learner_function(answer, numbers, seed)
        if problem:
            return False, f"{problem} (called as seeded_loader(dataset, {seed}))."
        if not isinstance(loader, DataLoader):
            return False, f"your function returned {kind_of(loader)}; return a torch.utils.data.DataLoader."
        torch.manual_seed(global_seed)  # another cell uses the global generator before this loader is read
        order, problem = call_learner_function(_order, loader)
        if order is None:  # reading it raised
            return False, f"reading the loader failed: {problem}."
        orders[name] = order
    if sorted(orders["first"]) != list(range(20)):
        return False, "the loader does not serve every item exactly once: keep the whole data set, shuffle it."
    if orders["first"] == list(range(20)) and orders["other"] == list(range(20)):
        return False, "the loader serves the items in their own order: pass shuffle=True."
    if orders["first"] != orders["again"]:
        return False, ("the same seed gave two orders. torch.manual_seed(seed) seeds the global generator, which "
                       "every other cell moves before the loader draws from it; give the DataLoader its own: "
                       "generator=torch.Generator().manual_seed(seed).")
    if orders["first"] == orders["other"]:
        return False, "seeds 0 and 1 gave the same order: make the generator from the seed you are given."
    return True, ""
