"""Checks for the exercises of notebook 09, prediction, squeeze and unsqueeze."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, as_number, call_learner_function, exercise_check, kind_of, number_problem


def picture_model(seed: int = 0) -> nn.Module:
    """Return a small 3-class model with Dropout and trained BatchNorm statistics, in training mode.

    It takes (N, 3, H, W) float images of any size, as ``ToTensor`` gives them (values in [0, 1]).
    """
    with torch.random.fork_rng():  # the same model every time, leaving the global generator (Dropout's) alone
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Dropout(0.5), nn.Linear(6, 3))
        head = cast(nn.Linear, model[-1])  # the Linear just built
        with torch.no_grad():
            head.weight.mul_(6)  # confident enough that the predicted class differs between models
            for _ in range(5):  # running statistics unlike a fresh layer's, so training mode answers differently
                model(torch.rand(4, 3, 9, 9) * 0.5 + 0.25)
    return model


def _cases() -> list[tuple[np.ndarray, int]]:
    """(picture, model seed): (H, W, 3) uint8 pictures as matplotlib and PIL give them, of sizes the notebook never
    used, each with a model that predicts another class (1, 2, then 0)."""
    rng = np.random.default_rng(9)
    pictures = [rng.integers(low, high, size=size, dtype=np.uint8)
                for size, (low, high) in zip(((20, 30, 3), (17, 11, 3), (8, 8, 3)), ((0, 256), (0, 80), (150, 256)))]
    pictures[1][..., 0] = 255
    return list(zip(pictures, (1, 7, 5)))


def _probabilities(model: nn.Module, picture: np.ndarray, *, scale: float = 255.0, channels_first: bool = True
                   ) -> torch.Tensor:
    """The model's probabilities for ``picture``, in eval mode; the keywords make a learner's usual slips."""
    image = torch.from_numpy(picture).float() / scale
    image = image.permute(2, 0, 1) if channels_first else image.reshape(3, *picture.shape[:2])
    model.eval()
    with torch.no_grad():
        return model(image.unsqueeze(0)).softmax(dim=1)[0]


def _as_numbers(returned: object) -> list[float | None] | None:
    """Return a returned pair as numbers, to compare two calls (None when it is not a pair)."""
    if not isinstance(returned, (tuple, list)):
        return None
    return [as_number(value) for value in returned]


def _prediction_problem(returned: object, model: nn.Module, picture: np.ndarray) -> str:
    """Return what is wrong with ``returned`` as the (class, probability) of ``picture``, or ``""``."""
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        return f"your function returned {kind_of(returned)}; return a pair: (class index, its probability)."
    index, probability = as_number(returned[0]), as_number(returned[1])
    if index is None or probability is None:
        return f"your function returned ({kind_of(returned[0])}, {kind_of(returned[1])}); return two numbers."
    expected = _probabilities(model, picture)
    if index == int(expected.argmax()) and abs(probability - float(expected.max())) < 1e-4:
        return ""
    for probabilities, slip in (
            (_probabilities(model, picture, scale=1.0), "the pixels are 0 to 255: divide by 255 to get what "
                                                        "ToTensor gives, floats in [0, 1]."),
            (_probabilities(model, picture, channels_first=False), "reshape keeps the memory order, so the "
             "pixels are scrambled: permute(2, 0, 1) moves the channels first.")):
        if index == int(probabilities.argmax()) and abs(probability - float(probabilities.max())) < 1e-4:
            return slip
    model.eval()
    with torch.no_grad():
        logits = model((torch.from_numpy(picture).float() / 255).permute(2, 0, 1).unsqueeze(0))[0]
    if abs(probability - float(logits.max())) < 1e-4:
        return "that is the largest raw score (a logit); softmax(dim=1) turns the scores into probabilities."
    if index == int(expected.argmax()):
        return (f"the class is right, but its probability is {float(expected.max()):.4f}, not {probability:.4f}: "
                "give the softmax probability of the predicted class.")
    return (f"the model predicts class {int(expected.argmax())} with probability {float(expected.max()):.4f}, "
            f"your function said {index:g} with {probability:.4f}.")


@exercise_check
def predict_picture(answer: object) -> Verdict:
    """The answer is a function ``predict_picture(model, picture)`` -> (class index, probability).

    ``picture`` is (H, W, 3) uint8; the function must scale it to [0, 1], put channels first, make a batch of
    one, run the model in eval mode and softmax. It is called on pictures of three new sizes and a model
    whose Dropout and BatchNorm answer differently in training mode, twice each (a prediction must not
    change from one call to the next).
    """
    if not callable(answer):
        return False, (f"expected your function itself (answer_predict_picture = predict_picture), got "
                       f"{kind_of(answer)}.")
    for picture, seed in _cases():
        results = []
        for _ in range(2):
            model = picture_model(seed)
            returned, problem = call_learner_function(answer, model, picture.copy())
            if problem:
                if "expected" in problem and ("4D" in problem or "dimensions" in problem or "3" in problem):
                    return False, (f"{problem}. The model takes a batch, (N, 3, H, W): put the channels first and "
                                   "add a batch dimension with unsqueeze(0).")
                return False, f"{problem} (for a picture of shape {picture.shape})."
            results.append(returned)
        if _as_numbers(results[0]) != _as_numbers(results[1]):
            return False, ("two calls on the same picture gave different answers: the model ran in training mode, "
                           "where Dropout drops at random and BatchNorm uses the batch's statistics. Call "
                           "model.eval() first (and torch.no_grad() saves memory).")
        problem = _prediction_problem(results[0], picture_model(seed), picture)
        if problem:
            return False, f"for a picture of shape {picture.shape}: {problem}"
    return True, ""


@exercise_check
def parasitized_recall(answer: object, matrix: torch.Tensor,
                       classes: Sequence[str] = ("Parasitized", "Uninfected")) -> Verdict:
    """The answer is the recall of Parasitized: ``matrix[p, p] / matrix[p].sum()`` (rows are true classes)."""
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "a number between 0 and 1")
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
def least_sure_image(answer: object, logits: torch.Tensor) -> Verdict:
    """The answer is the index of the image whose highest softmax probability is the lowest."""
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "an image index (a whole number)")
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
