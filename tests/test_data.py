import pytest
import torch

from helpers.data import (class_balance, image_folder, majority_baseline, make_loaders, patient_of, patient_split,
                          random_split)
from helpers.synthetic import make_synthetic_cells


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return make_synthetic_cells(tmp_path_factory.mktemp("cells") / "cells", per_class=60, seed=1)


def assert_disjoint_and_complete(split, count):
    train, valid, test = set(split.train), set(split.valid), set(split.test)
    assert not (train & valid or train & test or valid & test)
    assert train | valid | test == set(range(count))


def test_random_split_is_the_cheat_sheets_cut():
    split = random_split(100, seed=0)
    assert split.sizes() == {"train": 70, "valid": 20, "test": 10}
    assert_disjoint_and_complete(split, 100)
    assert random_split(100, seed=0) == split and random_split(100, seed=1) != split


def test_patient_split_keeps_each_patient_in_one_part(cells):
    samples = image_folder(cells).samples
    split = patient_split(samples, positive_class=0, seed=0)
    assert_disjoint_and_complete(split, len(samples))
    patients = {name: {patient_of(samples[i][0]) for i in getattr(split, name)}
                for name in ("train", "valid", "test")}
    assert not (patients["train"] & patients["valid"] or patients["train"] & patients["test"]
                or patients["valid"] & patients["test"])
    for name in ("train", "valid", "test"):  # every part has both classes
        assert {samples[i][1] for i in getattr(split, name)} == {0, 1}
    assert 0.5 < len(split.train) / len(samples) < 0.8  # whole patients make the parts coarse


def test_random_split_mixes_patients_across_parts(cells):
    samples = image_folder(cells).samples
    split = random_split(len(samples), seed=0)
    train_patients = {patient_of(samples[i][0]) for i in split.train}
    assert any(patient_of(samples[i][0]) in train_patients for i in split.test)  # the leak


def test_loaders_serve_normalised_batches_of_the_right_shape(cells):
    loaders = make_loaders(cells, image_size=32, batch_size=8, seed=0)
    images, labels = next(iter(loaders.train))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and set(labels.tolist()) <= {0, 1}
    assert images.min() < 0  # normalised, not in [0, 1]
    assert loaders.classes == ["Parasitized", "Uninfected"]
    assert sum(len(batch[1]) for batch in loaders.test) == len(loaders.split.test)
    assert loaders.train.dataset.transform is not loaders.valid.dataset.transform


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers data synthetic"):
        image_folder(tmp_path / "nowhere")


def test_a_colour_only_model_scores_higher_on_a_random_split_than_on_a_patient_split(tmp_path):
    """Notebook 03's claim, at the size of the class preset: the random split rewards knowing the slide."""
    import numpy as np
    from PIL import Image

    dataset = image_folder(make_synthetic_cells(tmp_path / "cells", per_class=600, seed=0))
    colours = []
    for path, _ in dataset.samples:
        pixels = np.asarray(Image.open(path), dtype=np.float32)
        colours.append(pixels[pixels.sum(axis=2) > 60].mean(axis=0))
    colours, labels = np.stack(colours), np.array(dataset.targets)

    def accuracy(split):
        train, test = np.array(split.train), np.array(split.test)
        distances = ((colours[test, None, :] - colours[None, train, :]) ** 2).sum(axis=2)
        return (labels[train][distances.argmin(axis=1)] == labels[test]).mean()

    by_patient = patient_split(dataset.samples, positive_class=0, seed=0)
    assert 0.65 < len(by_patient.train) / len(dataset) < 0.75
    random_accuracy, patient_accuracy = accuracy(random_split(len(dataset), seed=0)), accuracy(by_patient)
    assert random_accuracy > patient_accuracy + 0.1


def test_class_balance_gives_each_class_its_share_from_a_list_or_a_tensor():
    classes = ["Parasitized", "Uninfected"]
    assert class_balance([0, 1, 1, 1], classes) == {"Parasitized": 0.25, "Uninfected": 0.75}
    assert class_balance(torch.tensor([1, 1, 0, 0, 0]), classes) == {"Parasitized": 0.6, "Uninfected": 0.4}
    assert class_balance([1, 1], classes) == {"Parasitized": 0.0, "Uninfected": 1.0}


def test_class_balance_rejects_labels_without_a_class_and_empty_labels():
    with pytest.raises(ValueError, match="Labels \\[2\\] have no class"):
        class_balance([0, 2], ["Parasitized", "Uninfected"])
    with pytest.raises(ValueError, match="No labels"):
        class_balance([], ["Parasitized", "Uninfected"])


def test_majority_baseline_is_the_share_of_the_most_common_label():
    assert majority_baseline([0, 1, 1, 1]) == 0.75
    assert majority_baseline(torch.tensor([2, 0, 2, 1, 2])) == pytest.approx(0.6)
    assert majority_baseline([1]) == 1.0
    with pytest.raises(ValueError, match="No labels"):
        majority_baseline(torch.tensor([], dtype=torch.long))
