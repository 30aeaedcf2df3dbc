"""Checks for the exercises of notebook 07, CUDA and devices."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def device_choice(answer: object) -> Verdict:
    """The answer is ``torch.device("cuda")`` when CUDA is available, else ``torch.device("cpu")``."""
    expected = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(answer, str):
        return False, f"that is the string {answer!r}; wrap it: torch.device({answer!r})."
    if not isinstance(answer, torch.device):
        return False, f"expected a torch.device, got a {type(answer).__name__}."
    if answer.type != expected.type:
        return False, (f"got {answer}, but torch.cuda.is_available() is {torch.cuda.is_available()} here, so "
                       f"the device should be {expected}. Let the condition decide rather than writing the name.")
    return True, ""


@exercise_check
def output_on_model_device(answer: object, model: nn.Module, inputs: torch.Tensor) -> Verdict:
    """The answer is ``model(inputs)`` computed on the model's device."""
    model_device = next(model.parameters()).device
    if not isinstance(answer, torch.Tensor):
        return False, f"expected the model's output (a tensor), got a {type(answer).__name__}."
    if answer.device != model_device:
        return False, (f"the output is on {answer.device}, the model on {model_device}: move the inputs with "
                       "inputs.to(next(model.parameters()).device) and call the model on them.")
    expected_shape = (inputs.shape[0], model(inputs.to(model_device)).shape[1])
    if tuple(answer.shape) != expected_shape:
        return False, f"expected shape {expected_shape} (one row per input), got {tuple(answer.shape)}."
    return True, ""


@exercise_check
def batch_megabytes(answer: object) -> Verdict:
    """The answer is the MiB of a float32 batch (128, 3, 64, 64): 6.0."""
    value = float(answer)
    elements = 128 * 3 * 64 * 64
    if abs(value - elements * 4 / 2**20) < 1e-6:
        return True, ""
    if abs(value - elements / 2**20) < 1e-6:
        return False, "that counts one byte per number; a float32 takes 4 bytes (tensor.element_size())."
    if abs(value - elements * 4) < 1:
        return False, "that is in bytes; divide by 2**20 for MiB."
    if abs(value - elements * 4 / 1e6) < 1e-6:
        return False, "that is in megabytes of 10**6 bytes; a MiB is 2**20 bytes."
    if abs(value - elements * 8 / 2**20) < 1e-6:
        return False, "that is float64 (8 bytes per number); float32 takes 4."
    return False, f"got {value:g}; multiply the number of elements by 4 bytes and divide by 2**20."


@exercise_check
def to_numpy(answer: object, tensor: torch.Tensor) -> Verdict:
    """The answer is ``tensor.detach().cpu().numpy()``."""
    if isinstance(answer, torch.Tensor):
        return False, "that is still a tensor; finish with .numpy() (after .detach().cpu())."
    if not isinstance(answer, np.ndarray):
        return False, f"expected a NumPy array, got a {type(answer).__name__}."
    expected = tensor.detach().cpu().numpy()
    if answer.shape != expected.shape or not np.allclose(answer, expected):
        return False, f"expected the same values, shape {expected.shape}; got shape {answer.shape}."
    return True, ""
