"""The source task of the course's small pretrained backbone: telling shapes apart by their outline.

Notebook 05 needs a network pretrained on *another* task, as ImageNet models
are for photographs. The task here has nothing of the malaria cells in it:

* each image is one shape (:data:`SHAPE_CLASSES`: disc, square, triangle, cross,
  star) of a random colour, size, position and rotation on a dark background;
* the label is the outline alone. The inside carries a texture that says
  nothing about the label (:data:`TEXTURES`: plain, stripes, checks or speckles
  in a second colour), so the network learns edges, corners and texture, not
  dark marks inside round objects, the cue of the malaria task.

Example:
    >>> images, labels = make_shapes(8, size=32)
    >>> images.shape, labels.shape
    (torch.Size([8, 3, 32, 32]), torch.Size([8]))
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from helpers.transforms import IMAGENET_MEAN, IMAGENET_STD

SHAPE_CLASSES = ("disc", "square", "triangle", "cross", "star")
"""The source task's labels: the outline of the shape."""
TEXTURES = ("plain", "stripes", "checks", "speckles")
"""What may fill a shape, whatever its class."""


@lru_cache(maxsize=64)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel-centre coordinates in [-1, 1] for a square image of ``size`` px."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    return np.meshgrid(axis, axis, indexing="xy")


def outline_distance(u: np.ndarray, v: np.ndarray, shape: str) -> np.ndarray:
    """Return, per pixel, how far out the point (u, v) lies relative to the outline: below 1 inside, 1 on it.

    Example:
        >>> float(outline_distance(np.array(0.5), np.array(0.5), "square"))
        0.5
    """
    radius, angle = np.sqrt(u ** 2 + v ** 2), np.arctan2(v, u)
    if shape == "disc":
        return radius
    if shape == "square":
        return np.maximum(abs(u), abs(v))
    if shape == "triangle":  # a regular triangle whose inscribed circle has radius 0.5
        return radius * np.cos(angle % (2 * math.pi / 3) - math.pi / 3) / 0.5
    if shape == "cross":  # two bars 0.35 wide
        return np.minimum(np.maximum(abs(u) / 0.35, abs(v)), np.maximum(abs(u), abs(v) / 0.35))
    if shape == "star":  # five rounded points
        return radius / (0.6 + 0.4 * np.cos(5 * angle))
    raise ValueError(f"shape must be one of {SHAPE_CLASSES}, got {shape!r}")


def texture(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    """Return a pattern of 0s and 1s over the image: where a shape of this ``kind`` shows its second colour."""
    if kind == "stripes":
        frequency, direction = rng.uniform(2, 6), rng.uniform(0, math.pi)
        return (np.sin(frequency * math.pi * (x * math.cos(direction) + y * math.sin(direction))) > 0).astype(
            np.float32)
    if kind == "checks":
        frequency = rng.uniform(2, 5)
        return ((np.floor(frequency * (x + 1)) + np.floor(frequency * (y + 1))) % 2).astype(np.float32)
    if kind == "speckles":
        return (rng.random(x.shape) < 0.15).astype(np.float32)
    return np.zeros_like(x)


def draw_shape(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    """Draw one image of the source task as an RGB float array (size, size, 3) in [0, 1].

    Example:
        >>> draw_shape(np.random.default_rng(0), 16, label=2).shape
        (16, 16, 3)
    """
    x, y = _grid(size)
    angle, scale = rng.uniform(0, 2 * math.pi), rng.uniform(0.45, 0.85)
    cx, cy = rng.uniform(-0.2, 0.2, 2)
    u = ((x - cx) * math.cos(angle) + (y - cy) * math.sin(angle)) / scale
    v = (-(x - cx) * math.sin(angle) + (y - cy) * math.cos(angle)) / scale
    body = np.clip((1 - outline_distance(u, v, SHAPE_CLASSES[label])) * size * scale / 3, 0, 1)[..., None]
    colour, second = rng.uniform(0.3, 1.0, 3), rng.uniform(0.0, 1.0, 3)
    background = rng.uniform(0, 0.4) * rng.uniform(0.3, 1, 3)
    mix = (rng.uniform(0.3, 0.8) * texture(rng, x, y, TEXTURES[rng.integers(len(TEXTURES))]))[..., None]
    image = (1 - body) * background + body * (colour * (1 - mix) + second * mix)
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
