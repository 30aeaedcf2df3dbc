"""Models, as notebooks 04 and 05 built them.

* :func:`make_classifier` is the cheat sheet's classifier: ``nn.Sequential`` over
  an ``OrderedDict`` (fc1, ReLU, Dropout, fc2, LogSoftmax); ``log_softmax=False``
  leaves out the LogSoftmax, for a head that gives logits to ``CrossEntropyLoss``.
* :func:`make_small_cnn` is notebook 04's small CNN (Conv2d, BatchNorm2d, ReLU and
  MaxPool2d blocks, adaptive pooling, then a classifier giving logits); it takes
  any image size. Train it with Adam at :data:`SMALL_CNN_LEARNING_RATE` and
  ``nn.CrossEntropyLoss`` (notebook 06): that recipe learns on every seed.
* :func:`count_parameters` counts what will train and :func:`freeze` stops a
  model's parameters from training.

Pretrained weights (torchvision's ImageNet ones and the course's small backbone)
are loaded by :mod:`helpers.pretrained`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch  # noqa: F401 (the docstring examples use it)
from torch import nn

SMALL_CNN_CHANNELS = (16, 32, 64, 64)
"""Output channels of the small CNN's four convolution blocks."""

SMALL_CNN_LEARNING_RATE = 0.001
"""Adam's learning rate for :func:`make_small_cnn`: ``benchmarks/seed_sweep.py`` shows it learning on seeds 0 to 4."""

def make_classifier(in_features: int = 2048, hidden_units: int = 512, num_classes: int = 2,
                    dropout: float = 0.2, log_softmax: bool = True) -> nn.Sequential:
    """Return the cheat sheet's classifier: fc1, ReLU, Dropout, fc2 and LogSoftmax, by name.

    Its output is log-probabilities, so train it with ``nn.NLLLoss``. With
    ``log_softmax=False`` the last layer is ``fc2`` and the output is raw scores
    (logits), for ``nn.CrossEntropyLoss``, which applies log-softmax itself.

    Example:
        >>> classifier = make_classifier(2048, 512, 2)
        >>> classifier.fc1, classifier[0] is classifier.fc1
        (Linear(in_features=2048, out_features=512, bias=True), True)
        >>> make_classifier(64, 32, 2, log_softmax=False)[-1]
        Linear(in_features=32, out_features=2, bias=True)
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict([
        ("fc1", nn.Linear(in_features, hidden_units)),
        ("relu", nn.ReLU()),
        ("dropout", nn.Dropout(dropout)),
        ("fc2", nn.Linear(hidden_units, num_classes)),
    ])
    if log_softmax:
        layers["output"] = nn.LogSoftmax(dim=1)
    return nn.Sequential(layers)


def make_features(channels: tuple[int, ...] = SMALL_CNN_CHANNELS, in_channels: int = 3,
                  batch_norm: bool = False) -> nn.Sequential:
    """Return convolution blocks: each a 3x3 Conv2d (padding 1) and a ReLU, all but the last halved by MaxPool2d.

    ``batch_norm=True`` puts a BatchNorm2d between each convolution and its
    ReLU: every channel is rescaled to mean 0 and spread 1 over the batch, which
    keeps training stable from the first step whatever the starting weights.

    Example:
        >>> make_features((8, 16))(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 16, 16, 16])
        >>> [name for name, _ in make_features((8,), batch_norm=True).named_children()]
        ['conv1', 'norm1', 'relu1']
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for block, out_channels in enumerate(channels, start=1):
        layers[f"conv{block}"] = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        if batch_norm:
            layers[f"norm{block}"] = nn.BatchNorm2d(out_channels)
        layers[f"relu{block}"] = nn.ReLU()
        if block < len(channels):
            layers[f"pool{block}"] = nn.MaxPool2d(kernel_size=2)
        in_channels = out_channels
    return nn.Sequential(layers)


def make_small_backbone(channels: tuple[int, ...] = SMALL_CNN_CHANNELS, batch_norm: bool = False) -> nn.Sequential:
    """Return the small CNN without its classifier: images (N, 3, H, W) to features (N, channels[-1]).

    Without BatchNorm (the default) it is the architecture of the shipped
    pretrained backbone (:func:`helpers.pretrained.load_pretrained_backbone`).

    Example:
        >>> make_small_backbone()(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 64])
    """
    return nn.Sequential(OrderedDict([
        ("features", make_features(channels, batch_norm=batch_norm)),
        ("pool", nn.AdaptiveAvgPool2d(1)),  # any image size gives one value per channel
        ("flatten", nn.Flatten()),
    ]))


def make_small_cnn(num_classes: int = 2, hidden_units: int = 32,
                   channels: tuple[int, ...] = SMALL_CNN_CHANNELS) -> nn.Sequential:
    """Return notebook 04's CNN: the small backbone with BatchNorm, then a classifier that gives logits.

    Adaptive pooling makes it work at any image size (32, 64, 224 px ...).
    The output is logits: train it with ``nn.CrossEntropyLoss`` and
    ``torch.optim.Adam(model.parameters(), lr=SMALL_CNN_LEARNING_RATE)``.

    Example:
        >>> model = make_small_cnn()
        >>> model(torch.zeros(4, 3, 224, 224)).shape
        torch.Size([4, 2])
    """
    backbone = make_small_backbone(channels, batch_norm=True)
    return nn.Sequential(OrderedDict([
        *backbone.named_children(),
        ("classifier", make_classifier(channels[-1], hidden_units, num_classes, log_softmax=False)),
    ]))


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Return the side of a Conv2d's or MaxPool2d's output: floor((size + 2p - d(k - 1) - 1) / s) + 1.

    Example:
        >>> conv_output_size(64, kernel_size=3, padding=1), conv_output_size(64, kernel_size=2, stride=2)
        (64, 32)
    """
    return math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


@dataclass(frozen=True)
class ParameterCount:
    """How many parameters a model has, split into those that train and those that are frozen."""

    trainable: int
    frozen: int

    @property
    def total(self) -> int:
        return self.trainable + self.frozen

    def __str__(self) -> str:
        return f"{self.trainable:,} trainable + {self.frozen:,} frozen = {self.total:,} parameters"


def count_parameters(model: nn.Module) -> ParameterCount:
    """Count ``model``'s trainable (``requires_grad``) and frozen parameters.

    Example:
        >>> print(count_parameters(nn.Linear(512, 2)))
        1,026 trainable + 0 frozen = 1,026 parameters
    """
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return ParameterCount(trainable, frozen)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Return the parameters that will train: give these, and only these, to the optimizer.

    Example:
        >>> optimizer = torch.optim.Adam(trainable_parameters(model), lr=1e-3)  # doctest: +SKIP
    """
    return [p for p in model.parameters() if p.requires_grad]


def freeze(model: nn.Module) -> nn.Module:
    """Set ``requires_grad = False`` on every parameter of ``model`` and return it."""
    for parameter in model.parameters():
        parameter.requires_grad = False
    return model
