"""Checks for the exercises of notebook 03, datasets and loaders."""

from __future__ import annotations

import math

from torch.utils.data import DataLoader, SubsetRandomSampler
from torchvision.datasets import ImageFolder

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def uninfected_index(answer: object, dataset: ImageFolder) -> Verdict:
    """The answer is ``dataset.class_to_idx['Uninfected']``."""
    expected = dataset.class_to_idx["Uninfected"]
    if answer == expected:
        return True, ""
    if answer == "Uninfected":
        return False, "that is the name; the index is a number: look in dataset.class_to_idx."
    return False, "classes are numbered in alphabetical order of the folder names: see dataset.class_to_idx."


@exercise_check
def number_of_batches(answer: object) -> Verdict:
    """The answer is ceil(1000 / 32) = 32."""
    expected = math.ceil(1000 / 32)
    if answer == expected:
        return True, ""
    if answer == 1000 // 32:
        return False, "31 full batches, and the 8 images left over make one more (drop_last=False)."
    return False, f"got {answer}; divide the number of images by the batch size and round up."


@exercise_check
def test_loader(answer: object, eval_data: ImageFolder, test_indices: list[int]) -> Verdict:
    """The answer is a DataLoader over ``eval_data`` drawing exactly ``test_indices``."""
    if not isinstance(answer, DataLoader):
        return False, f"expected a DataLoader, got a {type(answer).__name__}."
    if answer.dataset is not eval_data:
        return False, "use eval_data: test images must get the evaluation transforms, not the training ones."
    if not isinstance(answer.sampler, SubsetRandomSampler):
        return False, "pass sampler=SubsetRandomSampler(patient_parts.test)."
    if sorted(answer.sampler.indices) != sorted(test_indices):
        return False, "the sampler draws other indices: use patient_parts.test."
    return True, ""
