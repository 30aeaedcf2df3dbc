"""Prediction, as notebook 09 built it: any image in, class names and probabilities out.

* :func:`helpers.image_files.load_image` (imported here) opens a file and returns
  it as an upright 8-bit RGB image, whatever its mode: the same decoder the
  training data set uses, so a file gives the same pixels in both.
* :func:`to_model_batch` turns a path, a PIL image, a NumPy array or a tensor,
  one or many, into the (N, C, H, W) batch a model takes.
* :func:`predict` and :func:`predict_batch` run the model in ``eval()`` mode
  under ``torch.no_grad()`` and return :class:`Prediction` objects;
  :func:`top_predictions` ranks the ``k`` most likely classes, as ``torch.topk`` does.
* :func:`confusion_matrix` and :func:`precision_recall` measure a classifier on a test set;
  :func:`accuracy_interval` says how uncertain an accuracy on few images is.

Float tensors count as model-ready (already transformed and normalised, as a
loader gives them); everything else is an image and goes through ``transform``.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from helpers.image_files import MAX_PIXELS, ImageInputError, ImageTooLargeError, load_image, to_rgb

__all__ = ["ImageSource", "ImageTooLargeError", "Prediction", "PredictionInputError", "accuracy_interval",
           "confusion_matrix", "load_image", "precision_recall", "predict", "predict_batch", "to_model_batch",
           "to_rgb", "top_predictions"]

ImageSource = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor
PredictionInputError = ImageInputError
"""An input :func:`predict` cannot use; the message says what was expected and what to do.

The same class as :class:`helpers.image_files.ImageInputError`: prediction and
training decode files with one decoder, so they fail with one error.
"""


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image: the most likely class and every class's probability.

    Example:
        >>> Prediction("Parasitized", 0.93, {"Parasitized": 0.93, "Uninfected": 0.07}).label
        'Parasitized'
    """

    label: str
    probability: float
    probabilities: dict[str, float]

    def __str__(self) -> str:
        return f"{self.label} ({self.probability:.1%})"


def _array_to_images(array: np.ndarray) -> list[Image.Image]:
    """Turn a (H, W), (H, W, C) or (N, H, W, C) array into RGB images."""
    if array.ndim == 4:
        return [image for item in array for image in _array_to_images(item)]
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        raise PredictionInputError(
            f"got a NumPy array of shape {array.shape}, which looks channels-first (C, H, W). Arrays are "
            "read as images, channels last (H, W, C), as PIL and matplotlib use them: pass "
            "array.transpose(1, 2, 0), or pass a tensor of shape (C, H, W) instead.")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise PredictionInputError(
            f"got a NumPy array of shape {array.shape}. Expected an image: (H, W) grayscale, (H, W, 3) RGB "
            "or (H, W, 4) RGBA, or a batch of them (N, H, W, C).")
    if array.size == 0:
        raise PredictionInputError(f"got an empty NumPy array of shape {array.shape}: pass an image with pixels.")
    if array.dtype == np.bool_:
        raise PredictionInputError("got a NumPy array of booleans (a mask?). Expected an image: uint8 (0..255), "
                                   "uint16 or floats in [0, 1]; convert a mask with mask.astype(np.uint8) * 255.")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise PredictionInputError(f"got a NumPy array with {int((~np.isfinite(array)).sum())} NaN or infinite "
                                   "values: a prediction from them would mean nothing. Check how the array was made.")
    if np.issubdtype(array.dtype, np.integer) and array.dtype != np.uint16 and 0 <= array.min() and array.max() <= 255:
        array = array.astype(np.uint8)  # int32/int64 pixels from arithmetic on uint8 images
    if array.dtype == np.uint8:
        pixels = array
    elif np.issubdtype(array.dtype, np.floating) and array.size and 0.0 <= array.min() and array.max() <= 1.0:
        pixels = (array * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype == np.uint16:
        pixels = (array / 257.0 + 0.5).astype(np.uint8)
    else:
        found = f"{array.min()}..{array.max()}" if array.size else "no values"
        raise PredictionInputError(
            f"got a NumPy array of dtype {array.dtype} with values {found}. Expected uint8 (0..255), uint16 "
            "(0..65535) or floats in [0, 1]: convert it, for example with (array / array.max()).")
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    return [to_rgb(Image.fromarray(np.ascontiguousarray(pixels)))]


def _tensor_to_batch(tensor: torch.Tensor, transform: Callable | None) -> torch.Tensor:
    """A float tensor is model-ready: (C, H, W) or (N, C, H, W). A uint8 tensor is an image."""
    if tensor.dtype == torch.uint8:
        images = tensor if tensor.ndim == 4 else tensor.unsqueeze(0)
        if images.ndim != 4 or images.shape[1] not in (1, 3, 4):
            raise PredictionInputError(f"got a uint8 tensor of shape {tuple(tensor.shape)}. Expected an image "
                                       "(C, H, W) as torchvision.io.read_image gives, or a batch (N, C, H, W).")
        arrays = images.permute(0, 2, 3, 1).cpu().numpy()
        return _images_to_batch([image for array in arrays for image in _array_to_images(array)], transform)
    if not tensor.is_floating_point():
        raise PredictionInputError(f"got a tensor of dtype {tensor.dtype}. Expected a float tensor that is "
                                   "already transformed (as a data loader gives it), or a uint8 image tensor.")
    if tensor.numel() == 0:
        raise PredictionInputError(f"got an empty tensor of shape {tuple(tensor.shape)}: pass an image.")
    if not torch.isfinite(tensor).all():
        raise PredictionInputError(f"got a tensor with {int((~torch.isfinite(tensor)).sum())} NaN or infinite "
                                   "values: a prediction from them would mean nothing. Check the transform and the "
                                   "data it came from (torch.isfinite(tensor).all() should be True).")
    if tensor.ndim == 3:
        return tensor.unsqueeze(0)  # a batch of one
    if tensor.ndim == 4:
        return tensor
    raise PredictionInputError(
        f"got a float tensor of shape {tuple(tensor.shape)}. Expected one transformed image (C, H, W) or a "
        "batch (N, C, H, W); a single image needs its channel dimension, e.g. tensor.unsqueeze(0) for grayscale.")


def _images_to_batch(images: list[Image.Image], transform: Callable | None) -> torch.Tensor:
    if transform is None:
        raise PredictionInputError("images need a transform to become tensors: pass the evaluation transform "
                                   "the model was trained with, e.g. transform=eval_transforms(64).")
    return torch.stack([transform(image) for image in images])


def to_model_batch(source: ImageSource | Sequence[ImageSource], transform: Callable | None = None,
                   max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Return ``source`` (one input, or a list of them) as a float batch (N, C, H, W).

    Example:
        >>> to_model_batch(torch.zeros(3, 64, 64)).shape
        torch.Size([1, 3, 64, 64])
    """
    if isinstance(source, (list, tuple)):
        if not source:
            raise PredictionInputError("got an empty list: pass at least one image.")
        return torch.cat([to_model_batch(item, transform, max_pixels) for item in source])
    if isinstance(source, torch.Tensor):
        return _tensor_to_batch(source, transform)
    if isinstance(source, np.ndarray):
        return _images_to_batch(_array_to_images(source), transform)
    if isinstance(source, (str, os.PathLike, Image.Image)):
        return _images_to_batch([load_image(source, max_pixels)], transform)
    if isinstance(source, bytes):
        raise PredictionInputError("got bytes: pass the path of the image file, or Image.open(io.BytesIO(data)).")
    raise PredictionInputError(
        f"got a {type(source).__name__}. Expected a file path, a PIL image, a NumPy array, a tensor, or a "
        "list of them.")


def predict_batch(model: nn.Module, source: ImageSource | Sequence[ImageSource], classes: Sequence[str],
                  transform: Callable | None = None, device: torch.device | str | None = None) -> list[Prediction]:
    """Return one :class:`Prediction` per image in ``source``.

    The model runs in ``eval()`` mode (Dropout off, BatchNorm on its running
    statistics) under ``torch.no_grad()``; its training mode is restored afterwards.

    Example:
        >>> predict_batch(model, ["a.png", "b.png"], loaders.classes, eval_transforms(64))  # doctest: +SKIP
        [Prediction(label='Parasitized', ...), Prediction(label='Uninfected', ...)]
    """
    first_parameter = next(model.parameters(), None)
    if device is None:
        device = first_parameter.device if first_parameter is not None else "cpu"
    batch = to_model_batch(source, transform)
    batch = batch.to(device, dtype=first_parameter.dtype if first_parameter is not None else batch.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(batch)
    except RuntimeError as error:  # usually a channel count or size the model was not built for
        raise PredictionInputError(
            f"the model cannot take a batch of shape {tuple(batch.shape)}: {str(error).splitlines()[0]} Pass images "
            "transformed as in training (same channels and size), e.g. transform=eval_transforms(64).") from None
    finally:
        model.train(was_training)
    if not torch.isfinite(logits).all():
        raise PredictionInputError("the model's outputs are NaN or infinite: its weights have diverged or were "
                                   "not loaded. Check the training losses, or load a checkpoint that trained well.")
    if logits.ndim != 2 or logits.shape[1] != len(classes):
        raise PredictionInputError(f"the model gave outputs of shape {tuple(logits.shape)} for {len(classes)} "
                                   f"classes {list(classes)}: pass the class names the model was trained on.")
    probabilities = logits.float().softmax(dim=1).cpu()
    best = probabilities.argmax(dim=1)
    return [Prediction(label=classes[int(index)], probability=float(row[index]),
                       probabilities={name: float(value) for name, value in zip(classes, row)})
            for row, index in zip(probabilities, best)]


def predict(model: nn.Module, source: ImageSource, classes: Sequence[str], transform: Callable | None = None,
            device: torch.device | str | None = None) -> Prediction:
    """Return the :class:`Prediction` for one image (a path, PIL image, array or tensor).

    Example:
        >>> print(predict(model, "cell.png", loaders.classes, eval_transforms(64)))  # doctest: +SKIP
        Parasitized (93.1%)
    """
    predictions = predict_batch(model, source, classes, transform, device)
    if len(predictions) != 1:
        raise PredictionInputError(f"got {len(predictions)} images; predict takes one. Use predict_batch "
                                   "for several.")
    return predictions[0]


def top_predictions(probabilities: torch.Tensor, classes: Sequence[str], k: int = 1) -> list[list[tuple[str, float]]]:
    """Return, for each row of ``probabilities`` (N, C), its ``k`` most likely classes, most likely first.

    This is notebook 09's ``torch.topk(probabilities, k, dim=1)``, with the
    indices turned into class names.

    Example:
        >>> top_predictions(torch.tensor([[0.2, 0.8], [0.9, 0.1]]), ["Parasitized", "Uninfected"], k=1)
        [[('Uninfected', 0.800000011920929)], [('Parasitized', 0.8999999761581421)]]
    """
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise ValueError(f"probabilities has shape {tuple(probabilities.shape)}: expected (images, classes) with "
                         f"{len(classes)} classes {list(classes)}, e.g. model(batch).softmax(dim=1).")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(classes):
        raise ValueError(f"k must be a whole number from 1 to the number of classes ({len(classes)}), got {k!r}.")
    values, indices = torch.topk(probabilities.detach().float().cpu(), k=k, dim=1)
    return [[(classes[index], value) for value, index in zip(row_values, row_indices)]
            for row_values, row_indices in zip(values.tolist(), indices.tolist())]


def confusion_matrix(true_labels: torch.Tensor, predicted_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Return the (num_classes, num_classes) counts: row = true class, column = predicted class.

    Example:
        >>> confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 2)
        tensor([[1, 1],
                [0, 1]])
    """
    true_labels, predicted_labels = torch.as_tensor(true_labels).cpu(), torch.as_tensor(predicted_labels).cpu()
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a whole number of at least 1, got {num_classes!r}.")
    if true_labels.shape != predicted_labels.shape:
        raise ValueError(f"true_labels has shape {tuple(true_labels.shape)} but predicted_labels "
                         f"{tuple(predicted_labels.shape)}: pass one predicted label per true label.")
    for name, labels in (("true_labels", true_labels), ("predicted_labels", predicted_labels)):
        if labels.is_floating_point() or labels.is_complex():
            raise ValueError(f"{name} holds {labels.dtype} values: pass class indices (logits.argmax(dim=1)), "
                             "not scores or probabilities.")
        outside = labels[(labels < 0) | (labels >= num_classes)]
        if outside.numel():
            raise ValueError(f"{name} holds {outside.numel()} label(s) outside 0 to {num_classes - 1} (such as "
                             f"{int(outside[0])}): each label must be a class index below num_classes={num_classes}.")
    pairs = true_labels.long() * num_classes + predicted_labels.long()
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def precision_recall(matrix: torch.Tensor) -> tuple[list[float], list[float]]:
    """Return per-class precision (column-wise) and recall (row-wise) of a confusion matrix.

    Precision: of the images predicted as a class, the fraction that are.
    Recall: of the images of a class, the fraction found. A class never predicted
    (or never present) gets 0.0 rather than a division by zero.

    Example:
        >>> precision_recall(torch.tensor([[8, 2], [1, 9]]))
        ([0.8888888888888888, 0.8181818181818182], [0.8, 0.9])
    """
    matrix = matrix.double()
    correct = matrix.diagonal()
    precision = (correct / matrix.sum(dim=0).clamp(min=1)).tolist()
    recall = (correct / matrix.sum(dim=1).clamp(min=1)).tolist()
    return precision, recall


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval for an accuracy of ``correct`` out of ``total`` test images.

    A test set is a sample: another 128 images of the same kind would give another score. The
    interval holds the true accuracy with the given confidence; unlike "p +/- 2 standard errors"
    it stays within [0, 1] and is honest near 100%.

    Example:
        >>> low, high = accuracy_interval(126, 128)
        >>> f"{low:.3f} to {high:.3f}"
        '0.945 to 0.996'
    """
    if total < 1 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total >= 1, got correct={correct}, total={total}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (such as 0.95), got {confidence}")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    share = correct / total
    denominator = 1 + z**2 / total
    centre = (share + z**2 / (2 * total)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / total + z**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)
