"""Checks for the exercises of notebook 02, transforms."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from helpers.course.checks import Verdict, exercise_check
from helpers.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transforms


def _test_cell() -> Image.Image:
    pixels = np.zeros((150, 120, 3), dtype=np.uint8)
    pixels[30:120, 20:100] = (200, 120, 150)
    return Image.fromarray(pixels)


@exercise_check
def eval_pipeline_128(answer: object) -> Verdict:
    """The answer is an evaluation pipeline giving normalised 3 x 128 x 128 tensors."""
    if not callable(answer):
        return False, "expected a transform (for example transforms.Compose([...])), got a " + type(answer).__name__
    image = _test_cell()
    output = answer(image)
    if not isinstance(output, torch.Tensor):
        return False, "the pipeline must end with a tensor: did you forget ToTensor()?"
    if tuple(output.shape) != (3, 128, 128):
        return False, f"expected shape (3, 128, 128), got {tuple(output.shape)}: Resize, then CenterCrop(128)."
    if not torch.equal(output, answer(image)):
        return False, "two runs gave different tensors: an evaluation pipeline must not be random."
    if output.min() >= 0:
        return False, "all values are >= 0: did you forget Normalize(mean, std)?"
    if (output - eval_transforms(128)(image)).abs().max() > 0.05:
        return False, "close, but not the cheat sheet's pipeline: Resize(round(128 * 255 / 224)), CenterCrop(128)."
    return True, ""


@exercise_check
def to_tensor_by_hand(answer: object, photo: np.ndarray) -> Verdict:
    """The answer equals ToTensor()(photo): CHW, float32, in [0, 1]."""
    expected = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a torch.Tensor, got a {type(answer).__name__}."
    if answer.shape != expected.shape:
        return False, f"expected shape {tuple(expected.shape)} (channels first), got {tuple(answer.shape)}."
    if answer.dtype != torch.float32:
        return False, f"expected float32, got {answer.dtype}: use .float()."
    if answer.max() > 1:
        return False, "values go above 1: divide by 255."
    if not torch.allclose(answer, expected):
        return False, "shape and dtype are right but values are not: permute(2, 0, 1) moves channels first."
    return True, ""


@exercise_check
def undo_normalize_red(answer: object) -> Verdict:
    """The answer is 1.0 * std + mean for the red channel."""
    value = float(answer)
    expected = 1.0 * IMAGENET_STD[0] + IMAGENET_MEAN[0]
    if abs(value - expected) < 1e-4:
        return True, ""
    if abs(value - (1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]) < 1e-4:
        return False, "that normalises again; undo it: multiply by std, then add mean."
    return False, f"got {value:g}; Normalize computes (x - mean) / std, so x = value * std + mean."
