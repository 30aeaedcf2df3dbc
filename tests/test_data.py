import re
from pathlib import Path

import pytest
import torch

from helpers.course.presets import PRESETS
from helpers.data import (
    DecodedImages,
    available_workers,
    class_balance,
    image_folder,
    majority_baseline,
    make_loaders,
    patient_of,
    patient_split,
    random_split,
)
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
    assert 0.4 < len(split.train) / len(samples) < 0.85  # 70% asked; whole patients of 120 images make it coarse


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


REAL_NAMES = Path(__file__).parent / "fixtures" / "nih_file_names.txt"
CLASSES = ("Parasitized", "Uninfected")


def real_samples() -> list[tuple[str, int]]:
    """The fixture's real NIH file names as ``ImageFolder.samples``: (path, class index)."""
    lines = [line for line in REAL_NAMES.read_text().splitlines() if line and not line.startswith("#")]
    return [(f"cell_images/{line}", CLASSES.index(line.split("/")[0])) for line in lines]


def slide_number(path: str) -> int:
    """The slide of a real file name, read independently of ``patient_of``: the number after the leading C."""
    return int(re.match(r"C(\d+)", Path(path).name).group(1))


@pytest.mark.parametrize("name, patient", [
    ("C33P1thinF_IMG_20150619_114756a_cell_179.png", "C33P1"),
    ("C100P61ThinF_IMG_20150918_144104_cell_162.png", "C100P61"),
    ("C39P4thinF_original_IMG_20150622_105102_cell_84.png", "C39P4"),
    ("C68P29N_ThinF_IMG_20150819_134112_cell_152.png", "C68P29"),
    ("C183P144NThinF_IMG_20151201_224458_cell_121.png", "C183P144"),
    ("C1_thinF_IMG_20150604_104722_cell_9.png", "C1"),
    ("C3thin_original_IMG_20150608_162835_cell_77.png", "C3"),
    ("C2NThinF_IMG_20150604_114631_cell_99.png", "C2"),
    ("C230ThinF_IMG_20151112_150329_cell_162.png", "C230"),
    ("cell_images/Uninfected/c13nthinf_img_20150614_131318_cell_179.png", "C13"),
])
def test_patient_of_reads_every_real_naming_form(name, patient):
    assert patient_of(name) == patient


def test_names_of_other_data_sets_are_their_own_patient():
    assert patient_of("data/Uninfected/cell_0007.png") == "cell_0007"
    assert patient_of("C12.png") == "C12" and patient_of("C12P3.png") == "C12P3"


def test_no_slide_of_the_real_names_lands_in_two_splits():
    samples = real_samples()
    slides = {slide_number(path) for path, _ in samples}
    assert {patient_of(path) for path, _ in samples} >= {"C1", "C2", "C3", "C230", "C33P1", "C68P29"}
    assert len(slides) >= 30
    for seed in range(5):
        split = patient_split(samples, positive_class=0, seed=seed)
        assert_disjoint_and_complete(split, len(samples))
        parts_of_slide = {slide: {name for name in ("train", "valid", "test")
                                  if any(slide_number(samples[i][0]) == slide for i in getattr(split, name))}
                          for slide in slides}
        in_two_splits = [slide for slide, parts in parts_of_slide.items() if len(parts) > 1]
        assert in_two_splits == []
        for name in ("train", "valid", "test"):  # every part has both classes
            assert {samples[i][1] for i in getattr(split, name)} == {0, 1}


def test_cells_taken_for_their_own_patients_leak_healthy_slides():
    """The bug this guards against: names ``patient_of`` cannot read become one patient per cell."""
    unread = [(path if "P" in Path(path).name.split("_")[0] else f"{Path(path).parent}/x{Path(path).name}", label)
              for path, label in real_samples()]
    split = patient_split(unread, positive_class=0, seed=0)
    slides = [{slide_number(unread[i][0].replace("/x", "/")) for i in getattr(split, name)}
              for name in ("train", "valid", "test")]
    assert slides[0] & slides[1] or slides[0] & slides[2] or slides[1] & slides[2]


def test_cached_images_give_the_same_batches_and_each_file_is_decoded_once(cells):
    def batches(loaders):
        torch.manual_seed(0)  # the training transforms draw from torch's generator
        return [images for _ in range(2) for images, _ in loaders.train] + [images for images, _ in loaders.valid]

    plain = make_loaders(cells, image_size=32, batch_size=8, seed=0)
    cached = make_loaders(cells, image_size=32, batch_size=8, seed=0, cache_images=True)
    assert all(torch.equal(a, b) for a, b in zip(batches(plain), batches(cached), strict=True))
    decoded = cached.train.dataset.loader
    assert isinstance(decoded, DecodedImages) and cached.valid.dataset.loader is decoded
    assert len(decoded.images) == len(cached.split.train) + len(cached.split.valid)


def test_decoded_images_calls_the_decoder_once_per_file():
    calls = []
    decoded = DecodedImages(lambda path: calls.append(path) or path.upper())
    assert [decoded("a"), decoded("b"), decoded("a")] == ["A", "B", "A"] and calls == ["a", "b"]


def test_loaders_can_use_a_worker_per_core(cells):
    assert 1 <= available_workers() <= 8 and available_workers(cap=1) == 1
    loaders = make_loaders(cells, image_size=32, batch_size=8, seed=0, num_workers=None, pin_memory=True)
    assert loaders.train.num_workers == available_workers() and loaders.train.persistent_workers
    assert loaders.valid.pin_memory and loaders.test.num_workers == available_workers()
    plain = make_loaders(cells, image_size=32, batch_size=8, seed=0)
    assert plain.train.num_workers == 0 and not plain.train.persistent_workers and not plain.train.pin_memory


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m helpers data synthetic"):
        image_folder(tmp_path / "nowhere")


@pytest.mark.slow
def test_a_colour_only_model_scores_higher_on_a_random_split_than_on_a_patient_split(tmp_path):
    """Notebook 03's claim, at the size of the class preset: the random split rewards knowing the slide."""
    import numpy as np
    from PIL import Image

    dataset = image_folder(make_synthetic_cells(tmp_path / "cells", per_class=PRESETS["class"].images_per_class, seed=0))
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
