"""Image transforms, as notebook 02 built them (with today's ``transforms.v2`` API).

The cheat sheet's training pipeline augments (rotate, crop, flip) and the
evaluation pipeline only resizes and crops; both end by turning the image into
a float tensor and normalising it with the ImageNet channel statistics that
pretrained models expect.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_SCALE = (0.6, 1.0)
"""RandomResizedCrop keeps at least 60% of the cell: the default 8% can cut the parasite out."""
COLOUR_JITTER = {"brightness": 0.3, "contrast": 0.2, "saturation": 0.3, "hue": 0.03}
"""How far ``train_transforms(colour=True)`` moves each image's colours: about as far as stains vary between slides."""


def train_transforms(size: int = 224, mean: tuple[float, ...] = IMAGENET_MEAN,
                     std: tuple[float, ...] = IMAGENET_STD, colour: bool = False) -> v2.Compose:
    """Return the cheat sheet's training pipeline for ``size`` x ``size`` images.

    ``colour=True`` adds a ``ColorJitter`` (:data:`COLOUR_JITTER`) after the
    cheat sheet's rotation, crop and flip: each image's brightness, contrast,
    saturation and hue move a little, as stains do from one slide to the next.

    Example:
        >>> [type(step).__name__ for step in train_transforms(64, colour=True).transforms][:4]
        ['RandomRotation', 'RandomResizedCrop', 'RandomVerticalFlip', 'ColorJitter']
    """
    return v2.Compose([
        v2.RandomRotation(30),
        v2.RandomResizedCrop(size, scale=CROP_SCALE, antialias=True),
        v2.RandomVerticalFlip(),
        *([v2.ColorJitter(**COLOUR_JITTER)] if colour else []),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
    ])


def eval_transforms(size: int = 224, mean: tuple[float, ...] = IMAGENET_MEAN,
                    std: tuple[float, ...] = IMAGENET_STD) -> v2.Compose:
    """Return the evaluation pipeline: resize to 255/224 of ``size``, centre-crop, normalise.

    Example:
        >>> eval_transforms(224)  # Resize(255) then CenterCrop(224), as the cheat sheet does  # doctest: +SKIP
    """
    return v2.Compose([
        v2.Resize(round(size * 255 / 224), antialias=True),
        v2.CenterCrop(size),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
    ])


def denormalize(images: torch.Tensor, mean: tuple[float, ...] = IMAGENET_MEAN,
                std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
    """Undo ``Normalize`` for display: (…, C, H, W) back to [0, 1].

    Example:
        >>> denormalize(torch.zeros(3, 2, 2))[:, 0, 0]
        tensor([0.4850, 0.4560, 0.4060])
    """
    mean_t = torch.tensor(mean, device=images.device).view(-1, 1, 1)
    std_t = torch.tensor(std, device=images.device).view(-1, 1, 1)
    return (images * std_t + mean_t).clamp(0, 1)


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Return the per-channel mean and standard deviation of a batch (N, C, H, W) in [0, 1].

    Example:
        >>> channel_stats(torch.ones(4, 3, 8, 8))
        ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    """
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3))
    return [round(v, 4) for v in mean.tolist()], [round(v, 4) for v in std.tolist()]
