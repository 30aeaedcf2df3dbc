"""Checks for the exercises of notebook 02, transforms."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from helpers.course.checks import Verdict, call_learner_function, changed_in_place, exercise_check, kind_of
from helpers.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transforms


def _test_cell() -> Image.Image:
    """A tall (150 x 120) cell-like picture with a gradient, so that squashing and shifting both show."""
    rows, columns = np.mgrid[0:150, 0:120]
    pixels = np.stack([rows * 255 // 150, columns * 255 // 120, (rows + columns) * 255 // 270], axis=-1)
    pixels[40:110, 30:90] = (200, 120, 150)
    return Image.fromarray(pixels.astype(np.uint8))


@exercise_check
def eval_pipeline_128(answer: object) -> Verdict:
    """The answer is an evaluation pipeline giving normalised 3 x 128 x 128 tensors, like ``eval_transforms(128)``."""
    if not callable(answer):
        return False, f"expected a transform (for example transforms.Compose([...])), got {kind_of(answer)}."
    image = _test_cell()
    output, failure = call_learner_function(answer, image)
    if failure:
        return False, (f"{failure.replace('function', 'pipeline')}. The steps run in order: Resize and CenterCrop "
                       "work on the picture, then ToTensor() makes a tensor, and only then Normalize.")
    if not isinstance(output, torch.Tensor):
        return False, f"the pipeline gives {kind_of(output)}, not a tensor: did you forget ToTensor()?"
    if tuple(output.shape) != (3, 128, 128):
        return False, (f"expected shape (3, 128, 128), got {tuple(output.shape)}: Resize(146) keeps the aspect "
                       "ratio, then CenterCrop(128) cuts the square.")
    if not output.is_floating_point():
        return False, (f"the tensor is {output.dtype}: ToTensor() (or v2.ToDtype(torch.float32, scale=True)) scales "
                       "to [0, 1].")
    if not torch.equal(output, answer(image)):
        return False, "two runs gave different tensors: an evaluation pipeline must not be random (no Random... steps)."
    if output.min() >= 0:
        return False, "all values are >= 0: did you forget Normalize(mean, std)?"
    expected = eval_transforms(128)(image)
    if (output - expected).abs().mean() < 0.05:
        return True, ""
    swapped = eval_transforms(128, mean=IMAGENET_STD, std=IMAGENET_MEAN)(image)
    if (output - swapped).abs().mean() < 0.05:
        return False, "mean and std are swapped: Normalize(mean, std) takes the means first."
    return False, ("close, but not the cheat sheet's picture: Resize(146) (one number, so the aspect ratio stays), "
                   "then CenterCrop(128), ToTensor(), Normalize with the ImageNet mean and std.")


@exercise_check
def to_tensor_by_hand(answer: object, photo: np.ndarray) -> Verdict:
    """The answer equals ToTensor()(photo): CHW, float32, in [0, 1]."""
    expected = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a torch.Tensor, got {kind_of(answer)}: start from torch.from_numpy(photo)."
    if answer.shape != expected.shape:
        return False, (f"expected shape {tuple(expected.shape)} (channels first), got {tuple(answer.shape)}: "
                       "permute(2, 0, 1).")
    if not answer.is_floating_point():
        return False, f"expected float32, got {answer.dtype}: use .float() before dividing."
    if answer.max() > 1:
        return False, "values go above 1: divide by 255."
    if not torch.allclose(answer.float(), expected):
        return False, ("shape and dtype are right but the values are in the wrong places: reshape/view keep the "
                       "memory order; permute(2, 0, 1) moves the channels first.")
    return True, ""


def _channel_column(values: tuple[float, ...]) -> torch.Tensor:
    return torch.tensor(values).view(3, 1, 1)


def exercise_normalized() -> torch.Tensor:
    """Notebook 02's ``normalized``: what an answer that undid it in place (``.mul_(...)``) is judged against."""
    pixels = torch.rand(3, 4, 3, generator=torch.Generator().manual_seed(0))
    return (pixels - _channel_column(IMAGENET_MEAN)) / _channel_column(IMAGENET_STD)


@exercise_check
def undo_normalize(answer: object, normalized: torch.Tensor) -> Verdict:
    """The answer is ``normalized * std + mean`` with the ImageNet numbers, one per channel (shape (3, 1, 1)).

    An answer computed in place changed ``normalized`` itself, so it is judged against the notebook's numbers.
    """
    mean, std = _channel_column(IMAGENET_MEAN), _channel_column(IMAGENET_STD)
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a tensor shaped like normalized {tuple(normalized.shape)}, got {kind_of(answer)}."
    if changed_in_place(answer, normalized) and normalized.shape == (3, 4, 3):
        normalized = exercise_normalized()
    if answer.shape != normalized.shape:
        return False, f"expected shape {tuple(normalized.shape)} like normalized, got {tuple(answer.shape)}."
    found = answer.detach().cpu().float()

    def near(candidate: torch.Tensor) -> bool:
        return torch.allclose(found, candidate, atol=1e-4)

    if near(normalized * std + mean):
        return True, ""
    if near(normalized * mean + std):
        return False, "mean and std are swapped: Normalize computed (x - mean) / std, so x = value * std + mean."
    if near((normalized - mean) / std):
        return False, "that normalises a second time; undo it: multiply by std, then add mean."
    if near(normalized * torch.tensor(IMAGENET_STD) + torch.tensor(IMAGENET_MEAN)):
        return False, ("the three numbers were spread along the last dimension (the width): view mean and std "
                       "as (3, 1, 1) so that each channel gets its own.")
    if near(normalized + mean) or near(normalized * std):
        return False, "both steps are needed: multiply by std, then add mean."
    return False, "Normalize computed (x - mean) / std per channel, so x = normalized * std + mean."
