"""Checks for the exercises of notebook 09, prediction, squeeze and unsqueeze."""

from __future__ import annotations

from typing import Sequence

import torch

from helpers.course.checks import Verdict, as_number, exercise_check, kind_of, number_problem


def _not_a_tensor(answer: object) -> str:
    return "" if isinstance(answer, torch.Tensor) else f"expected a tensor, got {kind_of(answer)}."


@exercise_check
def batch_of_one(answer: object, image: torch.Tensor) -> Verdict:
    """The answer is ``image`` (C, H, W) as a batch of one (1, C, H, W)."""
    problem = _not_a_tensor(answer)
    if problem:
        return False, problem
    expected = (1, *image.shape)
    if tuple(answer.shape) == (*image.shape, 1):
        return False, f"got {tuple(answer.shape)}: the new dimension went last; unsqueeze(0) puts it first."
    if tuple(answer.shape) == (*image.shape[:1], 1, *image.shape[1:]):
        return False, f"got {tuple(answer.shape)}: unsqueeze(1) put the new dimension second; unsqueeze(0) puts it first."
    if tuple(answer.shape) != expected:
        return False, f"expected shape {expected}, got {tuple(answer.shape)}. Use image.unsqueeze(0)."
    if not torch.equal(answer[0], image):
        return False, "the shape is right but the values changed; unsqueeze only adds a dimension."
    return True, ""


@exercise_check
def predicted_classes(answer: object, logits: torch.Tensor) -> Verdict:
    """The answer is ``logits.argmax(dim=1)``, shape (N,)."""
    problem = _not_a_tensor(answer)
    if problem:
        return False, problem
    expected = logits.argmax(dim=1)
    if tuple(answer.shape) == (logits.shape[0], 1):
        return False, "that is the cheat sheet's keepdim=True shape (N, 1); use argmax(dim=1) for (N,)."
    if answer.is_floating_point():
        return False, "those are scores or probabilities, not class indices: take the argmax, not the max."
    by_column = logits.argmax(dim=0)
    if tuple(answer.shape) == tuple(by_column.shape) and torch.equal(answer.cpu(), by_column) \
            and not torch.equal(by_column, expected):
        return False, "that is one index per class (dim=0, down the columns); each image is a row: argmax(dim=1)."
    if tuple(answer.shape) != tuple(expected.shape):
        return False, f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}; did you use dim=1?"
    if not torch.equal(answer.cpu(), expected):
        return False, "some indices are wrong: the class is the position of the largest score in each row (dim=1)."
    return True, ""


@exercise_check
def parasitized_recall(answer: object, matrix: torch.Tensor,
                       classes: Sequence[str] = ("Parasitized", "Uninfected")) -> Verdict:
    """The answer is the recall of Parasitized: ``matrix[p, p] / matrix[p].sum()`` (rows are true classes)."""
    problem = number_problem(answer, "a number between 0 and 1")
    if problem:
        return False, problem
    value = as_number(answer)
    p = list(classes).index("Parasitized")
    other = 1 - p
    matrix = matrix.double()
    recall = (matrix[p, p] / matrix[p].sum()).item()
    if abs(value - recall) < 1e-6:
        return True, ""
    if abs(value - (matrix[p, p] / matrix[:, p].sum()).item()) < 1e-6:
        return False, "that is the precision (divided by the column: predicted Parasitized); recall divides by the row."
    if abs(value - recall * 100) < 1e-4:
        return False, "that is a percentage; give the fraction, between 0 and 1."
    if abs(value - (matrix[other, other] / matrix[other].sum()).item()) < 1e-6:
        return False, (f"that is the recall of Uninfected (row {other}); Parasitized is row {p}, "
                       "classes.index('Parasitized').")
    if abs(value - (matrix.diagonal().sum() / matrix.sum()).item()) < 1e-6:
        return False, "that is the accuracy over both classes; recall looks at the Parasitized row only."
    return False, f"got {value:g}; recall = found / all parasitized = matrix[{p}, {p}] / matrix[{p}].sum()."


@exercise_check
def channels_first(answer: object, picture: torch.Tensor) -> Verdict:
    """The answer is ``picture`` (H, W, C) as (C, H, W): ``picture.permute(2, 0, 1)``."""
    problem = _not_a_tensor(answer)
    if problem:
        return False, problem
    expected = picture.permute(2, 0, 1)
    if tuple(answer.shape) != tuple(expected.shape):
        return False, f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}; permute(2, 0, 1)."
    if not torch.equal(answer, expected):
        return False, ("the shape is right but the pixels are scrambled: reshape/view keep the memory order; "
                       "permute moves the dimensions.")
    return True, ""


@exercise_check
def least_sure_image(answer: object, logits: torch.Tensor) -> Verdict:
    """The answer is the index of the image whose highest softmax probability is the lowest."""
    problem = number_problem(answer, "an image index (a whole number)")
    if problem:
        return False, problem
    value = as_number(answer)
    confidence = logits.softmax(dim=1).max(dim=1).values
    expected = int(confidence.argmin())
    if value == expected:
        return True, ""
    if value == expected + 1:
        return False, "Python counts from 0: the first image is index 0."
    if value == int(confidence.argmax()):
        return False, "that is the image the model is surest about; the question asks for the least sure one."
    if value == int(logits.max(dim=1).values.argmin()):
        return False, ("the raw scores mislead: a small top score can still be far above the others. Turn the logits "
                       "into probabilities with softmax(dim=1) and compare each image's top probability.")
    return False, "take softmax(dim=1), each row's largest probability, and the image where that is the smallest."
