"""The checks of notebooks 02 and 03 accept the reference solutions and reject typical mistakes."""

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, SubsetRandomSampler
from torchvision import transforms

from helpers.course.checks import loaders, transforms as transform_checks
from helpers.synthetic import make_synthetic_cells
from helpers.data import image_folder

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def test_eval_pipeline_check():
    right = transforms.Compose([transforms.Resize(146), transforms.CenterCrop(128), transforms.ToTensor(),
                                transforms.Normalize(MEAN, STD)])
    assert transform_checks.eval_pipeline_128.judge(right)[0]
    no_normalize = transforms.Compose([transforms.Resize(146), transforms.CenterCrop(128), transforms.ToTensor()])
    assert "Normalize" in transform_checks.eval_pipeline_128.judge(no_normalize)[1]
    random = transforms.Compose([transforms.RandomResizedCrop(128), transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    assert "random" in transform_checks.eval_pipeline_128.judge(random)[1]
    assert "(3, 128, 128)" in transform_checks.eval_pipeline_128.judge(
        transforms.Compose([transforms.Resize(128), transforms.ToTensor()]))[1]
    assert not transform_checks.eval_pipeline_128.judge("Compose")[0]


def test_to_tensor_by_hand_check():
    photo = np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10
    right = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    assert transform_checks.to_tensor_by_hand.judge(right, photo)[0]
    assert "channels first" in transform_checks.to_tensor_by_hand.judge(torch.from_numpy(photo).float() / 255, photo)[1]
    assert "255" in transform_checks.to_tensor_by_hand.judge(torch.from_numpy(photo).permute(2, 0, 1).float(), photo)[1]
    reshaped = (torch.from_numpy(photo).reshape(3, 2, 4).float() / 255)
    assert not transform_checks.to_tensor_by_hand.judge(reshaped, photo)[0]


def test_undo_normalize_check():
    assert transform_checks.undo_normalize_red.judge(1.0 * STD[0] + MEAN[0])[0]
    assert "normalises again" in transform_checks.undo_normalize_red.judge((1.0 - MEAN[0]) / STD[0])[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return image_folder(make_synthetic_cells(tmp_path_factory.mktemp("cells") / "c", per_class=10, seed=0))


def test_loader_checks(dataset):
    assert loaders.uninfected_index.judge(1, dataset)[0]
    assert "number" in loaders.uninfected_index.judge("Uninfected", dataset)[1]
    assert loaders.number_of_batches.judge(math.ceil(1000 / 32))[0]
    assert "one more" in loaders.number_of_batches.judge(31)[1]
    test_indices = [1, 4, 7]
    right = DataLoader(dataset, batch_size=4, sampler=SubsetRandomSampler(test_indices))
    assert loaders.test_loader.judge(right, dataset, test_indices)[0]
    other_dataset = image_folder(dataset.root)
    assert "eval_data" in loaders.test_loader.judge(
        DataLoader(other_dataset, sampler=SubsetRandomSampler(test_indices)), dataset, test_indices)[1]
    assert "other indices" in loaders.test_loader.judge(
        DataLoader(dataset, sampler=SubsetRandomSampler([0, 2])), dataset, test_indices)[1]
    assert "SubsetRandomSampler" in loaders.test_loader.judge(DataLoader(dataset), dataset, test_indices)[1]
