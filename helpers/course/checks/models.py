"""Checks for the exercises of notebook 04, Sequential models and CNNs."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from helpers.course.checks import Verdict, exercise_check

DIGITS_LAYERS = {"fc1": (784, 128), "fc2": (128, 10)}


@exercise_check
def digits_classifier(answer: object) -> Verdict:
    """The answer is nn.Sequential with named layers fc1 (784 -> 128), relu, fc2 (128 -> 10) and output (LogSoftmax)."""
    if not isinstance(answer, nn.Sequential):
        return False, f"expected an nn.Sequential, got a {type(answer).__name__}."
    names = [name for name, _ in answer.named_children()]
    if names != ["fc1", "relu", "fc2", "output"]:
        return False, (f"expected the layers to be named ['fc1', 'relu', 'fc2', 'output'], found {names}; "
                       "pass nn.Sequential an OrderedDict of (name, layer) pairs.")
    for name, (inputs, outputs) in DIGITS_LAYERS.items():
        layer = getattr(answer, name)
        if not isinstance(layer, nn.Linear) or (layer.in_features, layer.out_features) != (inputs, outputs):
            return False, f"{name} should be nn.Linear({inputs}, {outputs}), found {layer}."
    if not isinstance(answer.output, nn.LogSoftmax):
        return False, f"output should be nn.LogSoftmax(dim=1), found {answer.output}."
    with torch.no_grad():
        log_probabilities = answer(torch.randn(5, 784))
    if not torch.allclose(log_probabilities.exp().sum(dim=1), torch.ones(5), atol=1e-5):
        return False, ("each image's outputs should be log-probabilities over the 10 classes: "
                       "use LogSoftmax(dim=1).")
    return True, ""


@exercise_check
def flattened_size(answer: object, features: nn.Module, image_size: int) -> Verdict:
    """The answer is how many numbers ``features`` gives per image of ``image_size`` px, once flattened."""
    with torch.no_grad():
        output = features(torch.zeros(1, 3, image_size, image_size))
    expected = output[0].numel()
    if not isinstance(answer, numbers.Integral) and not (isinstance(answer, torch.Tensor) and answer.numel() == 1):
        return False, f"expected a whole number, got a {type(answer).__name__}."
    value = int(answer)
    if value == expected:
        return True, ""
    channels, side = output.shape[1], output.shape[-1]
    if value in (side * side, channels * side):
        return False, f"multiply channels x height x width: the output has {channels} channels."
    return False, (f"got {value}. Apply ⌊(n + 2p - k) / s⌋ + 1 layer by layer (conv_output_size does it), then "
                   "multiply the last layer's channels by the final height and width.")


@exercise_check
def fixed_image_model(answer: object, image_size: int) -> Verdict:
    """The answer is a model that turns (N, 3, image_size, image_size) images into (N, 2) outputs."""
    if not isinstance(answer, nn.Module):
        return False, f"expected an nn.Module such as nn.Sequential, got a {type(answer).__name__}."
    try:
        with torch.no_grad():
            output = answer(torch.zeros(4, 3, image_size, image_size))
    except RuntimeError as error:
        return False, (f"it still fails ({error}). A Linear layer only reads the last dimension: put nn.Flatten() "
                       "between the last pooling layer and the Linear layer.")
    if tuple(output.shape) != (4, 2):
        return False, f"a batch of 4 images should give shape (4, 2), got {tuple(output.shape)}."
    return True, ""
