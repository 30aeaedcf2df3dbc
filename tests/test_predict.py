"""helpers.predict: every kind of input either predicts or fails with an error that says what to do."""

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from helpers.predict import (
    ImageTooLargeError,
    Prediction,
    PredictionInputError,
    accuracy_interval,
    confusion_matrix,
    load_image,
    precision_recall,
    predict,
    predict_batch,
    to_model_batch,
    top_predictions,
)
from helpers.transforms import eval_transforms

CLASSES = ["Parasitized", "Uninfected"]
TRANSFORM = eval_transforms(32)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2))


def cell(size=(40, 30)):
    """An RGB test picture: a pink disc on black."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    yy, xx = np.mgrid[: size[1], : size[0]]
    pixels[(yy - size[1] / 2) ** 2 + (xx - size[0] / 2) ** 2 < (min(size) / 3) ** 2] = (220, 120, 160)
    return Image.fromarray(pixels)


def assert_is_a_prediction(prediction):
    assert isinstance(prediction, Prediction)
    assert prediction.label in CLASSES
    assert abs(sum(prediction.probabilities.values()) - 1.0) < 1e-5
    assert prediction.probability == max(prediction.probabilities.values())


def test_rgb_png_from_a_path_and_a_string(model, tmp_path):
    path = tmp_path / "cell.png"
    cell().save(path)
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))
    assert_is_a_prediction(predict(model, str(path), CLASSES, TRANSFORM))


def test_grayscale_becomes_rgb(model, tmp_path):
    path = tmp_path / "gray.png"
    cell().convert("L").save(path)
    assert Image.open(path).mode == "L"
    assert load_image(path).mode == "RGB"
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


def test_rgba_transparent_pixels_become_black(model, tmp_path):
    rgba = cell().convert("RGBA")
    rgba.putpixel((0, 0), (255, 255, 255, 0))  # white but fully transparent
    path = tmp_path / "rgba.png"
    rgba.save(path)
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.getpixel((0, 0)) == (0, 0, 0)
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


def test_palette_image_with_transparency(model, tmp_path):
    palette = cell().convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    palette.info["transparency"] = 0
    path = tmp_path / "palette.png"
    palette.save(path, transparency=0)
    assert Image.open(path).mode == "P"
    assert load_image(path).mode == "RGB"
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


def test_16_bit_png_is_scaled_not_clipped(model, tmp_path):
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)  # 0 .. 63000 of 65535
    path = tmp_path / "sixteen_bit.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    loaded = np.asarray(load_image(path))
    assert loaded.shape == (8, 8, 3)
    assert loaded[..., 0].max() == round(63000 / 65535 * 255)  # convert("L") would clip everything to 255
    assert len(np.unique(loaded[..., 0])) > 32
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


def test_exif_rotated_jpeg_is_turned_upright(model, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: "rotate 90° clockwise to display", as phones write it
    path = tmp_path / "rotated.jpg"
    cell((40, 20)).save(path, exif=exif)
    assert Image.open(path).size == (40, 20)
    assert load_image(path).size == (20, 40)
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


def test_one_pixel_image(model, tmp_path):
    path = tmp_path / "one_pixel.png"
    Image.new("RGB", (1, 1), (200, 100, 150)).save(path)
    assert to_model_batch(path, TRANSFORM).shape == (1, 3, 32, 32)
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


@pytest.mark.slow
def test_large_image_is_downscaled_before_the_transform(model, tmp_path):
    path = tmp_path / "large.jpg"
    cell((3000, 2400)).save(path, quality=80)
    assert max(load_image(path).size) == 2048
    assert_is_a_prediction(predict(model, path, CLASSES, TRANSFORM))


def png_with_size(path, width, height):
    """A 1x1 PNG whose header claims width x height: a decompression bomb's header, without the memory."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000], ids=["over_limit", "over_twice_limit"])
def test_decompression_bomb_is_refused_before_decoding(model, tmp_path, side):
    path = png_with_size(tmp_path / "bomb.png", side, side)
    with pytest.raises(ImageTooLargeError, match="decompression bomb"):
        predict(model, path, CLASSES, TRANSFORM)


def test_our_own_pixel_limit(tmp_path):
    path = tmp_path / "cell.png"
    cell((40, 30)).save(path)
    with pytest.raises(ImageTooLargeError, match="40 x 30 = 1,200 pixels"):
        load_image(path, max_pixels=1000)


def test_a_file_that_is_not_an_image(model, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture")
    with pytest.raises(PredictionInputError, match=r"notes\.png is not an image PIL can read") as error:
        predict(model, path, CLASSES, TRANSFORM)
    assert "Expected a PNG, JPEG" in str(error.value)


def test_a_missing_file(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="No file at"):
        predict(model, tmp_path / "missing.png", CLASSES, TRANSFORM)


def test_a_folder_instead_of_an_image(model, tmp_path):
    with pytest.raises(PredictionInputError, match="is a folder, not an image file") as error:
        predict(model, tmp_path, CLASSES, TRANSFORM)
    assert "give the path of one image inside it" in str(error.value)


def test_pil_image(model):
    assert_is_a_prediction(predict(model, cell(), CLASSES, TRANSFORM))
    assert_is_a_prediction(predict(model, cell().convert("RGBA"), CLASSES, TRANSFORM))


@pytest.mark.parametrize("make", [
    lambda: np.asarray(cell()),
    lambda: np.asarray(cell()).astype(np.float32) / 255,
    lambda: np.asarray(cell().convert("L")),
    lambda: np.asarray(cell().convert("L"))[..., None],
    lambda: np.asarray(cell().convert("RGBA")),
    lambda: np.asarray(cell()).astype(np.uint16) * 257,
], ids=["uint8_rgb", "float_rgb", "gray_2d", "gray_channel", "rgba", "uint16"])
def test_numpy_images(model, make):
    assert_is_a_prediction(predict(model, make(), CLASSES, TRANSFORM))


def test_numpy_batch(model):
    batch = np.stack([np.asarray(cell())] * 3)
    assert len(predict_batch(model, batch, CLASSES, TRANSFORM)) == 3


def test_numpy_channels_first_gets_a_clear_error(model):
    with pytest.raises(PredictionInputError, match=r"channels-first .* array.transpose\(1, 2, 0\)"):
        predict(model, np.asarray(cell()).transpose(2, 0, 1), CLASSES, TRANSFORM)


def test_numpy_out_of_range_floats_get_a_clear_error(model):
    with pytest.raises(PredictionInputError, match="floats in \\[0, 1\\]"):
        predict(model, np.asarray(cell()).astype(np.float32), CLASSES, TRANSFORM)


def test_tensors_single_batched_and_uint8(model):
    single = TRANSFORM(cell())
    assert_is_a_prediction(predict(model, single, CLASSES))
    assert len(predict_batch(model, torch.stack([single, single]), CLASSES)) == 2
    uint8_image = torch.from_numpy(np.array(cell())).permute(2, 0, 1)
    assert_is_a_prediction(predict(model, uint8_image, CLASSES, TRANSFORM))
    with pytest.raises(PredictionInputError, match="unsqueeze"):
        predict(model, torch.zeros(32, 32), CLASSES)
    with pytest.raises(PredictionInputError, match=r"dtype torch\.int64"):
        predict(model, torch.zeros(3, 32, 32, dtype=torch.long), CLASSES)


def test_a_list_of_mixed_inputs(model, tmp_path):
    path = tmp_path / "cell.png"
    cell().save(path)
    predictions = predict_batch(model, [path, cell(), np.asarray(cell())], CLASSES, TRANSFORM)
    assert len(predictions) == 3
    assert predictions[0].probabilities == pytest.approx(predictions[1].probabilities)


def test_predict_refuses_a_batch_and_other_types(model):
    with pytest.raises(PredictionInputError, match="predict_batch"):
        predict(model, torch.zeros(2, 3, 32, 32), CLASSES)
    with pytest.raises(PredictionInputError, match="got a dict"):
        predict(model, {"image": 1}, CLASSES, TRANSFORM)
    with pytest.raises(PredictionInputError, match="transform"):
        predict(model, cell(), CLASSES)
    with pytest.raises(PredictionInputError, match="class names"):
        predict(model, cell(), ["only one"], TRANSFORM)


def test_prediction_uses_eval_mode_and_restores_training(model):
    model.train()
    image = TRANSFORM(cell())
    first, second = predict(model, image, CLASSES), predict(model, image, CLASSES)
    assert first == second  # Dropout was off
    assert model.training
    assert torch.is_grad_enabled()  # no_grad ended with the call


def test_confusion_matrix_and_precision_recall():
    matrix = confusion_matrix(torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 0, 1, 1, 1]), 2)
    assert matrix.tolist() == [[2, 1], [0, 2]]
    precision, recall = precision_recall(matrix)
    assert precision == pytest.approx([1.0, 2 / 3])
    assert recall == pytest.approx([2 / 3, 1.0])
    assert precision_recall(torch.tensor([[0, 2], [0, 3]]))[0] == [0.0, 0.6]  # class 0 never predicted


def test_accuracy_interval_is_wilsons_and_narrows_with_more_images():
    low, high = accuracy_interval(50, 100)
    assert (round(low, 3), round(high, 3)) == (0.404, 0.596)  # the textbook value for 50 of 100
    assert accuracy_interval(128, 128)[1] == 1.0 and accuracy_interval(128, 128)[0] < 0.98
    assert accuracy_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    small, large = accuracy_interval(115, 128), accuracy_interval(1150, 1280)
    assert large[1] - large[0] < small[1] - small[0]
    assert accuracy_interval(126, 128, confidence=0.99)[0] < accuracy_interval(126, 128)[0]
    with pytest.raises(ValueError, match="correct <= total"):
        accuracy_interval(129, 128)
    with pytest.raises(ValueError, match="confidence"):
        accuracy_interval(1, 2, confidence=95)


def test_top_predictions_ranks_the_k_most_likely_classes():
    probabilities = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    names = ["a", "b", "c"]
    ranked = top_predictions(probabilities, names, k=2)
    assert [[name for name, _ in row] for row in ranked] == [["b", "c"], ["a", "c"]]
    assert ranked[0][0][1] == pytest.approx(0.7) and ranked[1][1][1] == pytest.approx(0.3)
    assert len(top_predictions(probabilities, names, k=3)[0]) == 3
    with pytest.raises(ValueError, match="k must be"):
        top_predictions(probabilities, names, k=4)
    with pytest.raises(ValueError, match="expected \\(images, classes\\)"):
        top_predictions(probabilities[0], names)
