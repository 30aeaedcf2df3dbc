"""Models, as notebooks 04 and 05 built them.

* :func:`make_classifier` is the cheat sheet's classifier: ``nn.Sequential`` over
  an ``OrderedDict`` (fc1, ReLU, Dropout, fc2, LogSoftmax); ``log_softmax=False``
  leaves out the LogSoftmax, for a head that gives logits to ``CrossEntropyLoss``.
* :func:`make_small_cnn` is notebook 04's small CNN (Conv2d, BatchNorm2d, ReLU and
  MaxPool2d blocks, adaptive pooling, then a classifier giving logits); it takes
  any image size. Train it with Adam at :data:`SMALL_CNN_LEARNING_RATE` and
  ``nn.CrossEntropyLoss`` (notebook 06): that recipe learns on every seed.
* :func:`build_transfer_model` loads a torchvision ResNet, freezes it and gives
  it a new ``fc`` head; :func:`count_parameters` counts what will train.
* :func:`load_imagenet_model` loads torchvision's ImageNet weights through the
  ``weights=`` API, with a clear error when they are neither cached nor reachable.
* :func:`load_pretrained_backbone` loads the small backbone the course ships in
  ``data/pretrained/``, pretrained on the shapes of :func:`make_shapes` (a
  different task from the malaria cells); ``scripts/pretrain_backbone.py`` remakes it.
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import numpy as np
import torch
import torchvision
from torch import nn

from helpers import course
from helpers.transforms import IMAGENET_MEAN, IMAGENET_STD

SMALL_CNN_CHANNELS = (16, 32, 64, 64)
"""Output channels of the small CNN's four convolution blocks."""

SMALL_CNN_LEARNING_RATE = 0.001
"""Adam's learning rate for :func:`make_small_cnn`: ``benchmarks/seed_sweep.py`` shows it learning on seeds 0 to 4."""

BACKBONE_FILE = "small_backbone.pt"
BACKBONE_SHA256 = "1803fbbdff1172b86b1ccf07a90627a2021821492bde069dd66e5965f83e145d"
"""The shipped backbone's checksum: PROVENANCE.md says how it was made, a test that it matches."""

SHAPE_CLASSES = ("plain", "dark spots", "dark rings", "stripes", "bright spots")
"""The source task of the shipped backbone: what marks a shape carries."""


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
    pretrained backbone (:func:`load_pretrained_backbone`).

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


def build_transfer_model(name: str = "resnet18", num_classes: int = 2,
                         weights: str | torchvision.models.WeightsEnum | None = None,
                         hidden_units: int | None = None, train_layers: tuple[str, ...] = ()) -> nn.Module:
    """Return a torchvision ResNet, frozen, with a new ``fc`` head for ``num_classes``.

    ``weights=None`` gives random weights (for structure only); ``"DEFAULT"`` or
    an enum member loads ImageNet weights through :func:`load_imagenet_model`.
    ``hidden_units`` swaps the single Linear head for the cheat sheet's
    classifier; ``train_layers`` (such as ``("layer4",)``) stay trainable for fine-tuning.

    Example:
        >>> model = build_transfer_model("resnet18")
        >>> model.fc, count_parameters(model).trainable
        (Linear(in_features=512, out_features=2, bias=True), 1026)
    """
    model = load_imagenet_model(name, weights) if weights is not None else torchvision.models.get_model(name)
    freeze(model)
    for layer in train_layers:
        getattr(model, layer).requires_grad_(True)
    in_features = model.fc.in_features
    model.fc = (nn.Linear(in_features, num_classes) if hidden_units is None
                else make_classifier(in_features, hidden_units, num_classes))
    return model


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither in the local cache nor downloadable."""


def imagenet_weights(name: str, weights: str | torchvision.models.WeightsEnum = "DEFAULT"
                     ) -> torchvision.models.WeightsEnum:
    """Return the weights enum member for model ``name``: ``"DEFAULT"``, ``"IMAGENET1K_V1"`` or a member.

    Example:
        >>> imagenet_weights("resnet50")
        ResNet50_Weights.IMAGENET1K_V2
    """
    if isinstance(weights, torchvision.models.WeightsEnum):
        return weights
    return torchvision.models.get_model_weights(name)[weights]


def weights_cache_path(weights: torchvision.models.WeightsEnum) -> Path:
    """Return where torch caches ``weights``: ``<torch.hub.get_dir()>/checkpoints/<file name in the URL>``.

    Example:
        >>> weights_cache_path(imagenet_weights("resnet18")).name
        'resnet18-f37072fd.pth'
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def load_imagenet_model(name: str, weights: str | torchvision.models.WeightsEnum = "DEFAULT") -> nn.Module:
    """Return torchvision model ``name`` with its ImageNet weights, from torch's cache or the internet.

    Raises :class:`WeightsUnavailableError`, saying what to do, when the file
    is not cached and cannot be downloaded. It never falls back to random weights.

    Example:
        >>> model = load_imagenet_model("resnet18", "IMAGENET1K_V1")  # doctest: +SKIP
    """
    member = imagenet_weights(name, weights)
    cached = weights_cache_path(member)
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        hash_prefix = re.search(r"-([a-f0-9]+)\.", cached.name)
        try:  # downloading here keeps torch's "Downloading ... to <local path>" line out of notebooks
            torch.hub.download_url_to_file(member.url, str(cached), hash_prefix.group(1) if hash_prefix else None)
        except (URLError, OSError, RuntimeError) as error:
            raise WeightsUnavailableError(
                f"Could not load the ImageNet weights {member} for {name}: the file {cached.name} is not in "
                f"torch's cache and downloading it failed ({type(error).__name__}: {error}). Connect to the "
                "internet (in Kaggle: Settings -> Internet on) and run again, or copy the file from "
                f"{member.url} into the 'checkpoints' folder of torch.hub.get_dir() (usually "
                "~/.cache/torch/hub/checkpoints). No random weights were loaded in their place."
            ) from error
    return torchvision.models.get_model(name, weights=member)


def published_metrics(name: str) -> dict[str, float | str]:
    """Return the ImageNet-1K top-1 and top-5 accuracy, parameters and file size torchvision publishes for ``name``.

    These are the figures of torchvision's model documentation, read from the
    default weights' ``meta``; nothing is downloaded.

    Example:
        >>> published_metrics("resnet18")["acc@1"]
        69.758
    """
    member = imagenet_weights(name)
    metrics = member.meta["_metrics"]["ImageNet-1K"]
    return {"weights": str(member).split(".")[-1], "acc@1": metrics["acc@1"], "acc@5": metrics["acc@5"],
            "params": member.meta["num_params"], "file_MB": member.meta.get("_file_size", float("nan"))}


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel-centre coordinates in [-1, 1] for a square image of ``size`` px."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    return np.meshgrid(axis, axis, indexing="xy")


def draw_shape(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    """Draw one image of the source task as an RGB float array (size, size, 3) in [0, 1].

    A disc or a square of a random colour on a dark background carries the
    marks of its class (:data:`SHAPE_CLASSES`): none, dark spots, dark rings,
    stripes or bright spots; any class may also carry faint specks.
    """
    x, y = _grid(size)
    angle = rng.uniform(0, math.pi)
    cx, cy = rng.uniform(-0.15, 0.15, 2)
    u = (x - cx) * math.cos(angle) + (y - cy) * math.sin(angle)
    v = -(x - cx) * math.sin(angle) + (y - cy) * math.cos(angle)
    a, b = rng.uniform(0.45, 0.9, 2)
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2) if rng.uniform() < 0.5 else np.maximum(abs(u / a), abs(v / b))
    body = np.clip((1 - radius) * size / 3, 0, 1)
    colour = rng.uniform(0.35, 1.0, 3)
    background = rng.uniform(0, 0.35) * rng.uniform(0.3, 1, 3)
    shade = 1 + rng.uniform(0, 0.3) * (x * math.cos(2 * angle) + y * math.sin(2 * angle))
    marks, mark_colour = np.zeros_like(x), colour
    if SHAPE_CLASSES[label] in ("dark spots", "dark rings", "bright spots"):
        for _ in range(rng.integers(1, 4)):
            r, t = rng.uniform(0, 0.6), rng.uniform(0, 2 * math.pi)
            mark_x, mark_y, mark_radius = r * a * math.cos(t), r * b * math.sin(t), rng.uniform(0.06, 0.15)
            distance = np.sqrt((u - mark_x) ** 2 + (v - mark_y) ** 2) / mark_radius
            blob = (np.clip(1.6 - 4 * abs(distance - 0.8), 0, 1) if SHAPE_CLASSES[label] == "dark rings"
                    else np.clip(1.5 - distance, 0, 1))
            marks = np.maximum(marks, rng.uniform(0.7, 1.0) * blob)
        mark_colour = (np.clip(colour + rng.uniform(0.4, 0.8), 0, 1.3) if SHAPE_CLASSES[label] == "bright spots"
                       else colour * rng.uniform(0.1, 0.9, 3) * rng.uniform(0.3, 0.8))
    elif SHAPE_CLASSES[label] == "stripes":
        frequency, direction = rng.uniform(3, 8), rng.uniform(0, 2 * math.pi)
        marks = 0.8 * (np.sin(frequency * math.pi * (u * math.cos(direction) + v * math.sin(direction))) > 0.3)
        mark_colour = colour * rng.uniform(0.1, 0.5)
    if rng.uniform() < 0.4 and SHAPE_CLASSES[label] != "stripes":  # faint specks are not marks
        for _ in range(rng.integers(1, 3)):
            sx, sy = rng.uniform(-0.4, 0.4, 2) * (a, b)
            distance = np.sqrt((u - sx) ** 2 + (v - sy) ** 2) / rng.uniform(0.03, 0.07)
            marks = np.maximum(marks, rng.uniform(0.1, 0.3) * np.clip(1.5 - distance, 0, 1))
    image = ((1 - body[..., None]) * background + (body * shade * (1 - marks))[..., None] * colour
             + (body * marks)[..., None] * mark_colour)
    image = image + rng.normal(0, 0.03, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def make_shapes(count: int, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``count`` source-task images (N, 3, size, size), normalised as ImageNet's, and their labels.

    Example:
        >>> images, labels = make_shapes(8, size=32)
        >>> images.shape, labels.shape
        (torch.Size([8, 3, 32, 32]), torch.Size([8]))
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPE_CLASSES), count)
    images = torch.from_numpy(np.stack([draw_shape(rng, size, int(label)) for label in labels]))
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images.permute(0, 3, 1, 2) - mean) / std, torch.from_numpy(labels)


def pretrained_backbone_path() -> Path:
    """Return the shipped backbone's file: the checkout's ``data/pretrained/``, else a checked download.

    In Colab and Kaggle the course package comes without ``data/``, so the
    file is fetched once from the repository at the pinned tag (pooch checks
    its SHA-256) into the course's data folder.
    """
    shipped = course.CHECKOUT_ROOT / "data" / "pretrained" / BACKBONE_FILE
    if shipped.exists():
        return shipped
    import pooch

    from helpers.paths import data_dir

    url = (f"https://raw.githubusercontent.com/{course.repository_slug()}/{course.PINNED_REF}"
           f"/data/pretrained/{BACKBONE_FILE}")
    return Path(pooch.retrieve(url, known_hash=f"sha256:{BACKBONE_SHA256}", fname=BACKBONE_FILE,
                               path=data_dir() / "pretrained", progressbar=False))


def load_pretrained_backbone(path: str | Path | None = None) -> tuple[nn.Sequential, dict]:
    """Return the course's pretrained small backbone (in eval mode) and what its file says about it.

    The second value holds the source task, its classes, the accuracy reached
    on it and the image size it was trained at (everything but the weights).

    Example:
        >>> backbone, card = load_pretrained_backbone()
        >>> backbone(torch.zeros(1, 3, 64, 64)).shape, card["source_classes"][1]
        (torch.Size([1, 64]), 'dark spots')
    """
    saved = torch.load(path or pretrained_backbone_path(), map_location="cpu", weights_only=True)
    backbone = make_small_backbone(tuple(saved["channels"]))
    backbone.features.load_state_dict(saved["features"])
    return backbone.eval(), {key: value for key, value in saved.items() if key != "features"}
