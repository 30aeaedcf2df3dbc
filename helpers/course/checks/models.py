"""Checks for the exercises of notebook 04, Sequential models and CNNs."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, as_number, as_number_list, exercise_check, kind_of, number_problem

DIGITS_LAYERS = {"fc1": (784, 128), "fc2": (128, 10)}


@exercise_check
def digits_classifier(answer: object) -> Verdict:
    """The answer is nn.Sequential with named layers fc1 (784 -> 128), relu, fc2 (128 -> 10) and output (LogSoftmax)."""
    if not isinstance(answer, nn.Sequential):
        return False, f"expected an nn.Sequential, got {kind_of(answer)}."
    names = [name for name, _ in answer.named_children()]
    if names != ["fc1", "relu", "fc2", "output"]:
        return False, (f"expected the layers to be named ['fc1', 'relu', 'fc2', 'output'], found {names}; "
                       "pass nn.Sequential an OrderedDict of (name, layer) pairs.")
    for name, (inputs, outputs) in DIGITS_LAYERS.items():
        layer = getattr(answer, name)
        if not isinstance(layer, nn.Linear) or (layer.in_features, layer.out_features) != (inputs, outputs):
            return False, f"{name} should be nn.Linear({inputs}, {outputs}), found {layer}."
    if not isinstance(answer.relu, nn.ReLU):
        return False, f"relu should be nn.ReLU(), found {answer.relu}."
    if not isinstance(answer.output, nn.LogSoftmax):
        return False, f"output should be nn.LogSoftmax(dim=1), found {answer.output}."
    with torch.no_grad():
        log_probabilities = answer(torch.randn(5, 784))
    if not torch.allclose(log_probabilities.exp().sum(dim=1), torch.ones(5), atol=1e-5):
        return False, ("each image's outputs should be log-probabilities over the 10 classes: "
                       "use LogSoftmax(dim=1), across the classes, not across the batch.")
    return True, ""


@exercise_check
def flattened_size(answer: object, features: nn.Sequential, image_size: int) -> Verdict:
    """The answer is how many numbers ``features`` gives per image of ``image_size`` px, once flattened."""
    with torch.no_grad():
        output = features(torch.zeros(1, 3, image_size, image_size))
    expected = output[0].numel()
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "a whole number")
    if value == expected:
        return True, ""
    channels, side = output.shape[1], output.shape[-1]
    if value in (side * side, channels * side):
        return False, f"multiply channels x height x width: the output has {channels} channels."
    last_pool_skipped = isinstance(features[-1], nn.MaxPool2d) and value == features[:-1](
        torch.zeros(1, 3, image_size, image_size))[0].numel()
    if last_pool_skipped and value == 4 * expected:
        return False, ("that is 4 x the right number: the size before the last MaxPool2d(2), which halves height and "
                       "width (or the bytes of float32 numbers, 4 each). Count numbers after every layer.")
    if last_pool_skipped:
        return False, "that is the size before the last MaxPool2d(2): it halves height and width once more."
    if value == output.numel() * 4 or value == 4 * expected:
        return False, "that counts bytes (4 per float32 number); the question is how many numbers per image."
    return False, (f"got {value:g}. Apply ⌊(n + 2p - k) / s⌋ + 1 layer by layer (conv_output_size does it): a 5 x 5 "
                   "kernel without padding shrinks the picture by 4, each MaxPool2d(2) halves it. Then multiply the "
                   "last layer's channels by the final height and width.")


def _layer_signature(layer: nn.Module) -> tuple:
    """What identifies a layer of ``broken``: its type and sizes, not its random weights."""
    if isinstance(layer, nn.Conv2d):
        return ("Conv2d", layer.in_channels, layer.out_channels, layer.kernel_size, layer.padding)
    if isinstance(layer, nn.Linear):
        return ("Linear", layer.in_features, layer.out_features)
    return (type(layer).__name__,)


@exercise_check
def fixed_image_model(answer: object, broken: nn.Sequential, image_size: int) -> Verdict:
    """The answer turns (N, 3, image_size, image_size) images into (N, 2) outputs, keeping ``broken``'s layers."""
    if not isinstance(answer, nn.Module):
        return False, f"expected an nn.Module such as nn.Sequential, got {kind_of(answer)}."
    if any(isinstance(layer, nn.Flatten) and layer.start_dim == 0 for layer in answer.modules()):
        return False, ("nn.Flatten(start_dim=0) flattens the batch dimension too, mixing the images: keep the "
                       "default start_dim=1.")
    try:
        with torch.no_grad():
            output = answer(torch.zeros(4, 3, image_size, image_size))
    except RuntimeError as error:
        return False, (f"it still fails ({error}). A Linear layer only reads the last dimension: put nn.Flatten() "
                       "between the last pooling layer and the Linear layer.")
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != (4, 2):
        found = tuple(output.shape) if isinstance(output, torch.Tensor) else kind_of(output)
        return False, (f"a batch of 4 images should give shape (4, 2), got {found}: nn.Flatten() keeps the batch "
                       "dimension (start_dim=1); flattening everything mixes the images.")
    with torch.no_grad():
        scores = answer(torch.randn(4, 3, image_size, image_size))
    if bool((scores >= 0).all()) and torch.allclose(scores.sum(dim=1), torch.ones(4), atol=1e-5):
        return False, ("the model returns probabilities (each row sums to 1): nn.CrossEntropyLoss, used next, applies "
                       "log-softmax itself and wants raw scores. End with the Linear layer, without Softmax.")
    kept = [_layer_signature(layer) for layer in answer.modules()]
    missing = [layer for layer in broken if _layer_signature(layer) not in kept]
    if missing:
        return False, (f"the fixed model lost {', '.join(type(layer).__name__ for layer in missing)}: keep every "
                       "layer of broken and only add what is missing between the pooling and the Linear layer.")
    return True, ""


@exercise_check
def memorises_one_batch(answer: object) -> Verdict:
    """The answer is the list of losses, one per step, of a model trained on one fixed batch until it memorises it."""
    if as_number(answer) is not None:
        return False, "that is one loss; append every step's loss.item() to a list and give the list."
    if isinstance(answer, (np.ndarray, torch.Tensor)):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)) or not answer:
        return False, f"expected a list of losses, one per training step; got {kind_of(answer)}."
    losses = as_number_list(answer)
    if losses is None:
        return False, "every entry should be a number: append loss.item() after each step."
    if len(losses) < 20:
        return False, f"only {len(losses)} steps: train for at least 20 (the exercise says 50)."
    first, last = losses[0], min(losses[-5:])
    if max(abs(loss - first) for loss in losses) < 1e-6:
        return False, ("the loss never moves: the weights are not updated. Call loss.backward() and "
                       "optimizer.step() on every step, with the model's own parameters in the optimizer.")
    if last > first:
        return False, ("the loss went up. Two usual causes: gradients that pile up from step to step (call "
                       "optimizer.zero_grad() at the start of every step), or a learning rate too large for the "
                       "model (the exercise uses Adam with lr=1e-3).")
    softmax_floor = math.log(1 + 1 / math.e)  # CrossEntropyLoss over probabilities of 2 classes never goes lower
    if softmax_floor - 1e-3 <= min(losses) < softmax_floor + 0.05 and last > 0.1:
        return False, (f"the loss stalls near {softmax_floor:.3f} = log(1 + 1/e), the lowest CrossEntropyLoss can give "
                       "when the model already outputs probabilities: does it end in nn.Softmax? CrossEntropyLoss "
                       "applies log-softmax itself; end the model with the Linear layer.")
    if last > 0.1:
        return False, (f"the loss fell from {first:.2f} to only {last:.2f}: a working model memorises 8 images. "
                       "Zero the gradients every step, and train longer or with a larger learning rate.")
    return True, ""
