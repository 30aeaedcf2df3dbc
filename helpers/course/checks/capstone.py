"""Checks for the exercises of notebook 11, the capstone."""

from __future__ import annotations

import torch

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def parasitized_recall(answer: object, matrix: torch.Tensor, classes: list[str]) -> Verdict:
    """The answer is matrix[p, p] / matrix[p].sum() for p = the Parasitized index."""
    p = classes.index("Parasitized")
    value = float(answer)
    expected = (matrix[p, p] / matrix[p].sum()).item()
    if abs(value - expected) < 1e-6:
        return True, ""
    if abs(value - (matrix[p, p] / matrix[:, p].sum()).item()) < 1e-6:
        return False, "that divides by the column (everything predicted Parasitized): that is the precision."
    return False, f"got {value:g}; divide the correct Parasitized count by the whole Parasitized row."


@exercise_check
def model_selection(answer: object) -> Verdict:
    """The answer is 'validation loss'."""
    text = str(answer).strip().lower()
    if text == "validation loss":
        return True, ""
    if text == "test accuracy":
        return False, "choosing by the test score makes the test split part of training: it stops measuring new data."
    if text == "training accuracy":
        return False, "training accuracy rewards memorising (notebook 06's overfitting lesson)."
    return False, 'answer "validation loss", "training accuracy" or "test accuracy".'


@exercise_check
def flag_with_threshold(answer: object, scores: torch.Tensor, threshold: float) -> Verdict:
    """The answer is ``scores >= threshold``."""
    if not isinstance(answer, torch.Tensor) or answer.dtype != torch.bool:
        return False, "expected a boolean tensor, such as scores >= 0.2."
    if answer.shape != scores.shape:
        return False, f"expected one flag per test cell, shape {tuple(scores.shape)}, got {tuple(answer.shape)}."
    if torch.equal(answer, scores >= threshold):
        return True, ""
    if torch.equal(answer, scores >= 0.5):
        return False, "that is the default threshold 0.5; lower it to 0.2 to flag more cells."
    return False, "flag a cell when its probability of Parasitized is at least 0.2."
