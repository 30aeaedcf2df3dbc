"""Round 3 (issue 30): linked class folders, images without pixels or with bombs inside, and split,
confusion-matrix and fit arguments that used to give wrong answers or raw errors."""

import io
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile import Hung, assert_clear_error, within_seconds
from PIL import Image, PngImagePlugin
from torch import nn

from helpers.data import image_folder, make_loaders, patient_split, random_split
from helpers.predict import confusion_matrix, load_image, predict, to_model_batch
from helpers.transforms import eval_transforms


def png(value):
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 6, 3), value, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def make_classes(root, per_class=6):
    for label, name in enumerate(("Parasitized", "Uninfected")):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            (root / name / f"C{index + 1}P{index}_cell_{index}.png").write_bytes(png(40 + 100 * label))
    return root


def labels_are_right(data):
    """Every sample sits (through links outside the data set, at most) in the folder of its label."""
    return all(Path(path).relative_to(data.root).parts[0] == data.classes[label] for path, label in data.samples)


@pytest.mark.parametrize("links", [pytest.param(["a"], marks=pytest.mark.attack("wrong answer")),
                                   pytest.param(["a", "b"], marks=pytest.mark.attack("hang")),
                                   pytest.param(["a", "b", "c"], marks=pytest.mark.attack("hang"))])
def test_self_links_in_a_class_folder_neither_hang_nor_repeat_images(tmp_path, links):
    root = make_classes(tmp_path / "cells")
    for name in links:
        (root / "Parasitized" / name).symlink_to(".")
    try:
        with within_seconds(20):
            data = image_folder(root)
    except Hung:
        pytest.fail("image_folder hung on self-links")
    assert len(data) == 12 and labels_are_right(data)


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("target", ["..", "../..", "sub/..", "../Parasitized"])
def test_links_back_up_the_tree_add_no_images(tmp_path, target):
    root = make_classes(tmp_path / "cells")
    (root / "Parasitized" / "sub").mkdir()
    (root / "Parasitized" / "loop").symlink_to(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = image_folder(root)
    assert len(data) == 12 and len({path for path, _ in data.samples}) == 12 and labels_are_right(data)


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("link", ["folder", "file"])
def test_a_link_into_the_other_class_is_skipped_and_said(tmp_path, link):
    root = make_classes(tmp_path / "cells")
    if link == "folder":
        (root / "Parasitized" / "more").symlink_to(root / "Uninfected")
    else:
        (root / "Parasitized" / "borrowed.png").symlink_to(root / "Uninfected" / "C1P0_cell_0.png")
    with pytest.warns(UserWarning, match="point into another class folder"):
        data = image_folder(root)
    assert len(data) == 12 and labels_are_right(data)
    assert sum(label == data.class_to_idx["Parasitized"] for _, label in data.samples) == 6


def test_a_link_to_images_outside_the_data_set_is_followed_once(tmp_path):
    root = make_classes(tmp_path / "cells")
    extra = tmp_path / "extra_parasitized"
    extra.mkdir()
    (extra / "C9P9_cell_0.png").write_bytes(png(40))
    (extra / "back").symlink_to(extra)  # a loop out there too
    (root / "Parasitized" / "extra").symlink_to(extra)
    (root / "Parasitized" / "extra_again").symlink_to(extra)
    data = image_folder(root)
    assert len(data) == 13 and labels_are_right(data)


def test_a_class_folder_that_is_itself_a_link_still_works(tmp_path):
    elsewhere = make_classes(tmp_path / "mounted")
    root = tmp_path / "cells"
    root.mkdir()
    for name in ("Parasitized", "Uninfected"):
        (root / name).symlink_to(elsewhere / name)
    data = image_folder(root)
    assert data.classes == ["Parasitized", "Uninfected"] and len(data) == 12


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("size", [(0, 5), (5, 0), (0, 0)])
def test_an_image_without_pixels_is_named(size):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    with pytest.raises(Exception) as caught:
        predict(model, Image.new("RGB", size), ["a", "b"], eval_transforms(8))
    assert_clear_error(caught.value, "no pixels")


def jpeg_bytes():
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("kept", [30, 200, 0.5, 0.9])
def test_a_truncated_jpeg_is_named(tmp_path, kept):
    data = jpeg_bytes()
    path = tmp_path / "cell.jpg"
    path.write_bytes(data[:int(kept * len(data)) if isinstance(kept, float) else kept])
    with pytest.raises(Exception) as caught:
        load_image(path)
    assert_clear_error(caught.value, "truncated or damaged")


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("chunk", ["zTXt", "iTXt"])
def test_a_text_chunk_bomb_is_refused_with_a_message(tmp_path, chunk):
    info = PngImagePlugin.PngInfo()
    text = "A" * (PngImagePlugin.MAX_TEXT_CHUNK + 10)  # compresses to a few kB
    if chunk == "zTXt":
        info.add_text("comment", text, zip=True)
    else:
        info.add_itxt("comment", text, zip=True)
    path = tmp_path / "cell.png"
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    with pytest.raises(Exception) as caught:
        load_image(path)
    assert_clear_error(caught.value, "cell.png")


@pytest.mark.attack("raw traceback")
def test_a_larger_max_pixels_works_past_pils_own_limit(tmp_path):
    path = tmp_path / "slide.png"
    Image.new("1", (20_000, 10_000)).save(path)  # 200 million pixels: beyond twice PIL's limit
    with pytest.raises(Exception) as caught:
        load_image(path)
    assert_clear_error(caught.value, "max_pixels")
    assert to_model_batch(path, eval_transforms(8), max_pixels=200_000_000).shape == (1, 3, 8, 8)


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("valid, test", [(0.3, -0.3), (-0.1, 0.2), (0.7, 0.5), (0.5, 0.5), (1.0, 0.0),
                                         (math.nan, 0.1), (0.2, math.inf), ("0.2", 0.1), (True, 0.1)])
def test_split_fractions_outside_zero_to_one_are_refused(valid, test):
    for split in (lambda: random_split(20, valid_fraction=valid, test_fraction=test),
                  lambda: patient_split([(f"C{i}P{i}_x.png", i % 2) for i in range(40)], valid_fraction=valid,
                                        test_fraction=test)):
        with pytest.raises(Exception) as caught:
            split()
        assert_clear_error(caught.value, "fraction")


@pytest.mark.parametrize("count", [10, 20, 37])
def test_good_fractions_still_give_disjoint_parts(count):
    parts = random_split(count, seed=1, valid_fraction=0.25, test_fraction=0.15)
    together = parts.train + parts.valid + parts.test
    assert sorted(together) == list(range(count))


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("true, predicted", [([0, 2], [0, 1]), ([0, 1], [-1, 1]), ([3, 0], [0, 0]),
                                             ([0.0, 1.0], [0, 1]), ([0, 1, 1], [0, 1])])
def test_confusion_matrix_refuses_labels_it_would_misplace(true, predicted):
    with pytest.raises(Exception) as caught:
        confusion_matrix(torch.tensor(true), torch.tensor(predicted), 2)
    assert_clear_error(caught.value, "label")


def test_confusion_matrix_counts_good_labels():
    assert confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([1, 1, 0]), 2).tolist() == [[0, 1], [1, 1]]


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("count", [-5, 2.5, "20", None, True])
def test_a_count_that_is_not_a_number_of_images_is_refused(count):
    with pytest.raises(ValueError) as error:
        random_split(count)
    assert_clear_error(error.value, "count must be a whole number")


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("image_size, batch_size", [(0, 16), (-64, 16), (float("nan"), 16), (64.0, 16), (64, 0),
                                                    (64, 2.5)])
def test_loader_sizes_that_are_not_whole_positive_numbers_are_refused_before_reading(tmp_path, image_size,
                                                                                    batch_size):
    with pytest.raises(ValueError) as error:
        make_loaders(tmp_path / "no data here", image_size, batch_size)
    assert_clear_error(error.value, "must be a whole number of at least 1")


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_floating_point_image_with_pixels_of_no_colour_is_refused_not_guessed(tmp_path, value):
    pixels = np.full((12, 12), 0.5, dtype=np.float32)
    pixels[3, 4] = value
    path = tmp_path / "scan.tiff"
    Image.fromarray(pixels).save(path)
    with pytest.raises(ValueError) as error:
        load_image(path)
    assert_clear_error(error.value, "scan.tiff", "NaN or infinite", "1 ")
    assert load_image(Image.fromarray(np.full((12, 12), 0.5, dtype=np.float32))).getpixel((0, 0)) == (
        128, 128, 128)
