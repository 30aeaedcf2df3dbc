import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from helpers.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    channel_stats,
    denormalize,
    eval_transforms,
    train_transforms,
)


def to_float_tensor():
    """v2's spelling of ToTensor(), as the pipelines use it."""
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def cell_image(size=90):
    pixels = np.full((size, size, 3), 200, dtype=np.uint8)
    pixels[:5] = 0
    return Image.fromarray(pixels)


def test_to_float_tensor_changes_range_dtype_and_layout():
    tensor = to_float_tensor()(cell_image(90))
    assert tensor.shape == (3, 90, 90) and tensor.dtype == torch.float32
    assert abs(tensor.max().item() - 200 / 255) < 1e-6 and tensor.min().item() == 0.0


def test_both_pipelines_give_the_size_the_model_expects():
    for size in (32, 64, 224):
        assert train_transforms(size)(cell_image(130)).shape == (3, size, size)
        assert eval_transforms(size)(cell_image(45)).shape == (3, size, size)


def test_eval_pipeline_is_deterministic_and_train_pipeline_is_not():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8))
    assert torch.equal(eval_transforms(64)(image), eval_transforms(64)(image))
    torch.manual_seed(0)
    assert not torch.equal(train_transforms(64)(image), train_transforms(64)(image))


def test_denormalize_undoes_normalize():
    tensor = to_float_tensor()(cell_image(64))
    normalised = v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)(tensor)
    assert torch.allclose(denormalize(normalised), tensor, atol=1e-6)
    assert torch.allclose(denormalize(torch.zeros(3, 1, 1)).flatten(), torch.tensor(IMAGENET_MEAN))


def test_channel_stats():
    images = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])
    mean, std = channel_stats(images)
    assert mean == [0.5, 0.5, 0.5] and all(abs(s - 0.5080) < 1e-3 for s in std)
