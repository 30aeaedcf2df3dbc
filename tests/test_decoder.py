"""One image decoder: the training data set and prediction see the same pixels for every kind of image file."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.data import image_folder
from helpers.image_files import BACKGROUND, load_image
from helpers.predict import to_model_batch
from helpers.transforms import eval_transforms

PINK = (200, 120, 160)


def picture(width=12, height=20, seed=0):
    """A seeded RGB picture, different in every pixel and not symmetric, so a rotation shows."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    pixels[0, 0] = PINK
    return Image.fromarray(pixels)


def rgba(path):
    image = picture().convert("RGBA")
    image.putpixel((0, 0), PINK + (0,))  # pink, but fully transparent
    image.putpixel((1, 0), PINK + (128,))  # half transparent
    image.save(path)


def la(path):
    image = picture().convert("LA")
    image.putpixel((0, 0), (180, 0))
    image.save(path)


def palette_with_transparency(path):
    image = picture().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.save(path, transparency=int(image.getpixel((0, 0))))


def sixteen_bit(path):
    Image.fromarray(np.arange(240, dtype=np.uint16).reshape(20, 12) * 270).save(path)  # 0 .. 64530


def grayscale(path):
    picture().convert("L").save(path)


def exif_rotated_jpeg(path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as phones write it
    picture(12, 20).save(path, exif=exif, quality=95)


def cmyk_jpeg(path):
    picture().convert("CMYK").save(path, quality=95)


def rgb_png(path):
    picture().save(path)


KINDS = {  # name: (writer, file name, mode PIL opens it in, size after decoding)
    "rgb": (rgb_png, "rgb.png", "RGB", (12, 20)),
    "rgba": (rgba, "rgba.png", "RGBA", (12, 20)),
    "la": (la, "la.png", "LA", (12, 20)),
    "palette_transparent": (palette_with_transparency, "palette.png", "P", (12, 20)),
    "sixteen_bit": (sixteen_bit, "sixteen.png", ("I;16", "I"), (12, 20)),  # Pillow 10 opens it as I
    "grayscale": (grayscale, "gray.png", "L", (12, 20)),
    "exif_rotated_jpeg": (exif_rotated_jpeg, "rotated.jpg", "RGB", (20, 12)),
    "cmyk_jpeg": (cmyk_jpeg, "cmyk.jpg", "CMYK", (12, 20)),
}


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """One class folder per kind of file, each holding one file of that kind."""
    root = tmp_path_factory.mktemp("kinds")
    paths = {}
    for name, (write, file_name, _, _) in KINDS.items():
        (root / name).mkdir()
        write(root / name / file_name)
        paths[name] = root / name / file_name
    return root, paths


def training_sample(root, path, transform=None):
    dataset = image_folder(root, transform)
    return dataset[[sample_path for sample_path, _ in dataset.samples].index(str(path))][0]


@pytest.mark.parametrize("kind", KINDS)
def test_training_and_prediction_decode_a_file_to_the_same_pixels(image_files, kind):
    root, paths = image_files
    _, _, opened_mode, decoded_size = KINDS[kind]
    with Image.open(paths[kind]) as opened:
        modes = opened_mode if isinstance(opened_mode, tuple) else (opened_mode,)
        assert opened.mode in modes, "the writer made another kind of file than the test is about"
    training = training_sample(root, paths[kind])
    prediction = load_image(paths[kind])
    assert training.mode == prediction.mode == "RGB"
    assert training.size == prediction.size == decoded_size
    assert np.array_equal(np.asarray(training), np.asarray(prediction))
    transform = eval_transforms(16)
    assert torch.equal(training_sample(root, paths[kind], transform), to_model_batch(paths[kind], transform)[0])


def test_transparent_pixels_are_composited_on_black_in_both_paths(image_files):
    root, paths = image_files
    training = training_sample(root, paths["rgba"])
    assert training.getpixel((0, 0)) == BACKGROUND  # torchvision's own loader would keep the hidden pink
    half = training.getpixel((1, 0))
    assert all(abs(value - round(pink / 2)) <= 1 for value, pink in zip(half, PINK))
    palette = training_sample(root, paths["palette_transparent"])
    assert palette.getpixel((0, 0)) == BACKGROUND
    assert training_sample(root, paths["la"]).getpixel((0, 0)) == BACKGROUND


def test_sixteen_bit_is_scaled_to_eight_bits_not_clipped(image_files):
    root, paths = image_files
    pixels = np.asarray(training_sample(root, paths["sixteen_bit"]))[..., 0]
    assert pixels.max() == round(64530 / 65535 * 255)
    assert len(np.unique(pixels)) > 200  # convert("L") would clip nearly all of them to 255


def test_exif_rotation_turns_the_pixels_upright(image_files):
    root, paths = image_files
    with Image.open(paths["exif_rotated_jpeg"]) as stored:
        upright = np.asarray(stored.convert("RGB").transpose(Image.Transpose.ROTATE_270))
    assert np.array_equal(np.asarray(training_sample(root, paths["exif_rotated_jpeg"])), upright)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="open files are listed in /proc on Linux only")
def test_the_decoder_closes_the_file(image_files):
    _, paths = image_files
    images = [load_image(path) for path in paths.values()]  # kept alive: an open file would stay open
    open_files = {os.path.realpath(os.path.join("/proc/self/fd", fd)) for fd in os.listdir("/proc/self/fd")}
    assert images and not open_files & {os.path.realpath(path) for path in paths.values()}
