"""Checks for the exercises of notebook 00, start here."""

from __future__ import annotations

import torch
import torch.utils.data

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def autograd_module(answer: object) -> Verdict:
    """The answer is the name of the part of PyTorch that computes gradients."""
    if answer == "torch.autograd" or answer is torch.autograd:
        return True, ""
    return False, ("it is the part that records operations on a 'tape' and replays them "
                   "backwards; its name starts with 'torch.'.")


@exercise_check
def first_tensor(answer: object) -> Verdict:
    """The answer is the tensor [[1, 2, 3], [4, 5, 6]]."""
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a torch.Tensor, got a {type(answer).__name__}; try torch.tensor(...)."
    if tuple(answer.shape) != (2, 3):
        return False, f"expected shape (2, 3), got {tuple(answer.shape)}; try .reshape(2, 3)."
    if not torch.equal(answer.cpu().to(torch.int64), torch.arange(1, 7).reshape(2, 3)):
        return False, "the shape is right but the values are not 1 to 6, row by row."
    return True, ""


@exercise_check
def batching_class(answer: object) -> Verdict:
    """The answer is the torch.utils.data class that serves a dataset in batches."""
    if answer is torch.utils.data.DataLoader:
        return True, ""
    if isinstance(answer, str):
        return False, "give the class itself, not its name (no quotes)."
    if answer is torch.utils.data.Dataset:
        return False, "a Dataset hands out one sample at a time; which class batches them?"
    return False, "look inside torch.utils.data: its name ends in 'Loader'."
