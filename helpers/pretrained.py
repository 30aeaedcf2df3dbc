"""Pretrained weights, as notebook 05 loaded them.

* :func:`load_imagenet_model` loads torchvision's ImageNet weights through the
  ``weights=`` API, from torch's cache or the internet, with a clear error when
  they are neither cached nor reachable (it never falls back to random weights).
* :func:`build_transfer_model` loads a torchvision ResNet, freezes it and gives
  it a new ``fc`` head for the malaria classes.
* :func:`published_metrics` reads the accuracy torchvision publishes for a model.
* :func:`load_pretrained_backbone` loads a small backbone saved by
  ``scripts/pretrain_backbone.py``, such as the one the course ships in
  ``data/pretrained/``, pretrained on synthetic shapes (a different task from the
  malaria cells).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.error import URLError

import torch
import torchvision
from torch import nn

from helpers.models import freeze, make_classifier, make_small_backbone

BACKBONE_FILE = "small_backbone.pt"
BACKBONE_SHA256 = "915026e9f22511ed578f7df34111c0ebf2b8217c02bebc5e8cd1dc4cab4ce3fd"
"""The shipped backbone's checksum: PROVENANCE.md says how it was made, a test that it matches."""


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


def build_transfer_model(name: str = "resnet18", num_classes: int = 2,
                         weights: str | torchvision.models.WeightsEnum | None = None,
                         hidden_units: int | None = None, train_layers: tuple[str, ...] = ()) -> nn.Module:
    """Return a torchvision ResNet, frozen, with a new ``fc`` head for ``num_classes``.

    ``weights=None`` gives random weights (for structure only); ``"DEFAULT"`` or
    an enum member loads ImageNet weights through :func:`load_imagenet_model`.
    ``hidden_units`` swaps the single Linear head for the cheat sheet's
    classifier; ``train_layers`` (such as ``("layer4",)``) stay trainable for fine-tuning.

    Example:
        >>> from helpers.models import count_parameters
        >>> model = build_transfer_model("resnet18")
        >>> model.fc, count_parameters(model).trainable
        (Linear(in_features=512, out_features=2, bias=True), 1026)
    """
    model = load_imagenet_model(name, weights) if weights is not None else torchvision.models.get_model(name)
    freeze(model)
    for layer in train_layers:
        getattr(model, layer).requires_grad_(True)
    old_head = getattr(model, "fc", None)
    if not isinstance(old_head, nn.Linear):
        raise ValueError(f"{name} has no Linear head named fc to replace: build_transfer_model takes a ResNet-style "
                         "model (resnet18, resnet50, ...); other families name their head otherwise, such as "
                         "classifier in VGG and EfficientNet (notebook 05)")
    model.fc = (nn.Linear(old_head.in_features, num_classes) if hidden_units is None
                else make_classifier(old_head.in_features, hidden_units, num_classes))
    return model


def load_pretrained_backbone(path: str | Path) -> tuple[nn.Sequential, dict]:
    """Return the course's pretrained small backbone (in eval mode) and what its file says about it.

    The second value holds the source task, its classes, the accuracy reached
    on it and the image size it was trained at (everything but the weights).

    Example:
        >>> backbone, card = load_pretrained_backbone("data/pretrained/small_backbone.pt")
        >>> backbone(torch.zeros(1, 3, 64, 64)).shape, card["source_classes"][1]
        (torch.Size([1, 64]), 'square')
    """
    saved = torch.load(path, map_location="cpu", weights_only=True)
    backbone = make_small_backbone(tuple(saved["channels"]))
    backbone.get_submodule("features").load_state_dict(saved["features"])
    return backbone.eval(), {key: value for key, value in saved.items() if key != "features"}
