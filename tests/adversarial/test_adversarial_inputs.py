"""Loaders, prediction, grid labels and the synthetic generator against the classic traps and hostile inputs."""

import io

import numpy as np
import pytest
import torch
from hostile import write_tiny_notebook
from PIL import Image
from torch import nn

from helpers.data import UnreadableImagesError, image_folder, make_loaders, patient_split
from helpers.predict import PredictionInputError, load_image, predict, to_model_batch
from helpers.synthetic import NotACourseFolderError, make_synthetic_cells, png_bytes
from helpers.tools.runner import ParameterError, plan_tasks


def cell_png(value=128, size=8):
    return png_bytes(np.full((size, size, 3), value, dtype=np.uint8))


def make_classes(root, per_class=3, classes=("Parasitized", "Uninfected")):
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            (root / name / f"C{index + 1}P{index}thinF_IMG_20150604_111111_cell_{index}.png").write_bytes(cell_png())
    return root


HIDDEN_CLUTTER = {
    "a checkpoints folder with an image": ".ipynb_checkpoints/cell-checkpoint.png",
    "a checkpoints folder inside a class": "Parasitized/.ipynb_checkpoints/cell-checkpoint.png",
    "an AppleDouble file": "Parasitized/._C1P0thinF_IMG_20150604_111111_cell_0.png",
    "a macOS zip folder": "__MACOSX/Parasitized/._x.png",
    "a hidden folder": ".trash/old.png",
    "a hidden image": "Uninfected/.hidden.png",
    "a DS_Store": "Parasitized/.DS_Store",
}


@pytest.mark.parametrize("case", HIDDEN_CLUTTER)
def test_hidden_files_and_folders_never_become_classes_or_samples(tmp_path, case):
    root = make_classes(tmp_path / "cells")
    clutter = root / HIDDEN_CLUTTER[case]
    clutter.parent.mkdir(parents=True, exist_ok=True)
    clutter.write_bytes(cell_png())
    data = image_folder(root)
    assert data.classes == ["Parasitized", "Uninfected"] and len(data) == 6
    assert all("/." not in path and "__MACOSX" not in path for path, _ in data.samples)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_folder_above_the_class_folders_finds_them(tmp_path, depth):
    nested = tmp_path / "data"
    for level in range(depth):
        nested = nested / f"level{level}"
    make_classes(nested)
    data = image_folder(tmp_path / "data")
    assert data.classes == ["Parasitized", "Uninfected"] and len(data) == 6


def test_two_candidate_data_sets_below_are_named(tmp_path):
    make_classes(tmp_path / "data" / "a")
    make_classes(tmp_path / "data" / "b")
    with pytest.raises(FileNotFoundError, match="several folders of class folders"):
        image_folder(tmp_path / "data")


def test_a_class_folder_itself_says_to_point_at_its_parent(tmp_path):
    root = make_classes(tmp_path / "cells")
    with pytest.raises(FileNotFoundError, match="holds images but no class folders"):
        image_folder(root / "Parasitized")


@pytest.mark.parametrize("empty_class", ["Uninfected", "Parasitized"])
def test_an_empty_class_folder_is_named(tmp_path, empty_class):
    root = make_classes(tmp_path / "cells", classes=[c for c in ("Parasitized", "Uninfected") if c != empty_class])
    (root / empty_class).mkdir()
    (root / empty_class / "notes.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match=f"{empty_class} holds no images"):
        image_folder(root)


@pytest.mark.parametrize("where", ["missing", "a file", "an empty folder"])
def test_no_data_says_how_to_make_it(tmp_path, where):
    root = tmp_path / "cells"
    if where == "a file":
        root.write_text("x")
    elif where == "an empty folder":
        root.mkdir()
    with pytest.raises(FileNotFoundError, match="python -m helpers data synthetic"):
        image_folder(root)


@pytest.mark.parametrize("damage", [b"", b"\x89PNG\r\n\x1a\n", "truncated", b"GIF89a nonsense", b"<html>404</html>"])
def test_a_corrupt_image_is_named_before_training(tmp_path, damage):
    root = make_classes(tmp_path / "cells", per_class=12)
    bad = root / "Uninfected" / "C9P9thinF_IMG_20150604_111111_cell_99.png"
    bad.write_bytes(cell_png(size=64)[:60] if damage == "truncated" else damage)
    with pytest.raises(UnreadableImagesError, match=bad.name):
        make_loaders(root, image_size=8, batch_size=4, split="random")


def test_a_patient_split_that_would_leave_a_part_empty_gives_the_smallest_size(tmp_path):
    root = make_synthetic_cells(tmp_path / "cells", per_class=12, seed=0, image_size=16, workers=1)
    data = image_folder(root)
    with pytest.raises(ValueError, match="at least 24 per class"):
        patient_split(data.samples, data.class_to_idx["Parasitized"], seed=0)
    bigger = image_folder(make_synthetic_cells(tmp_path / "more", per_class=24, seed=0, image_size=16, workers=1))
    assert all(patient_split(bigger.samples, bigger.class_to_idx["Parasitized"], seed=0).sizes().values())


def test_too_few_images_for_a_random_split_are_refused(tmp_path):
    root = make_classes(tmp_path / "cells", per_class=2)
    with pytest.raises(ValueError, match="too few to split"):
        make_loaders(root, image_size=8, batch_size=4, split="random")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


CLASSES = ["Parasitized", "Uninfected"]
NON_FINITE = {
    "NaN tensor": torch.full((3, 8, 8), float("nan")),
    "one NaN": torch.zeros(3, 8, 8).index_put_((torch.tensor(0), torch.tensor(0), torch.tensor(0)), torch.tensor(float("nan"))),
    "Inf tensor": torch.full((1, 3, 8, 8), float("inf")),
    "-Inf tensor": torch.full((3, 8, 8), float("-inf")),
    "NaN array": np.full((8, 8, 3), np.nan, dtype=np.float32),
    "Inf array": np.full((8, 8, 3), np.inf),
}


@pytest.mark.parametrize("case", NON_FINITE)
def test_nan_and_inf_inputs_are_refused_not_predicted(model, case):
    with pytest.raises(PredictionInputError, match="NaN or infinite"):
        predict(model, NON_FINITE[case], CLASSES)


def test_a_model_that_outputs_nan_is_refused(model):
    broken = nn.Sequential(nn.Flatten(), nn.Linear(192, 2))
    with torch.no_grad():
        broken[1].weight.fill_(float("nan"))
    with pytest.raises(PredictionInputError, match="outputs are NaN or infinite"):
        predict(broken, torch.zeros(3, 8, 8), CLASSES)


@pytest.mark.parametrize("url", ["http://example.org/cell.png", "https://x.y/a.jpg", "HTTPS://X.Y/A.PNG",
                                 "ftp://host/cell.png", "s3://bucket/cell.png"])
def test_a_url_is_answered_with_download_it_first(model, url):
    with pytest.raises(PredictionInputError, match="download it first"):
        predict(model, url, CLASSES, transform=lambda image: torch.zeros(3, 8, 8))


@pytest.mark.parametrize("cut", [40, 80, 200, 400])
def test_a_truncated_image_file_is_named(tmp_path, cut):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    path = tmp_path / "cut_short.png"
    path.write_bytes(buffer.getvalue()[:cut])
    with pytest.raises(PredictionInputError, match=r"cut_short\.png"):
        load_image(path)


def identity_transform(image):
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


@pytest.mark.parametrize("array", [np.full((8, 8, 3), 200, dtype=np.int64), np.full((8, 8), 7, dtype=np.int32),
                                   np.full((8, 8, 3), 0.5, dtype=np.float16), np.full((8, 8, 1), 3, dtype=np.int16)])
def test_integer_and_half_arrays_are_converted(array):
    batch = to_model_batch(array, identity_transform)
    assert batch.shape == (1, 3, 8, 8) and torch.isfinite(batch).all()


@pytest.mark.parametrize("source, message", [
    (np.zeros((8, 8, 3), dtype=bool), "booleans"), (np.zeros((8, 8, 2), dtype=np.uint8), "Expected an image"),
    (np.zeros((8, 8, 5), dtype=np.uint8), "Expected an image"), (np.full((8, 8, 3), -1, dtype=np.int64), "Expected uint8"),
    (np.full((8, 8, 3), 300.0), "Expected uint8"), (np.zeros((0, 8, 3), dtype=np.uint8), "empty"),
    (np.zeros((3, 8, 8), dtype=np.uint8), "channels-first"), (torch.zeros(8, 8, dtype=torch.int64), "dtype torch.int64"),
    (torch.zeros(0, 3, 8, 8), "empty"), (torch.zeros(8), "Expected one transformed image"), (b"\x89PNG", "got bytes"),
    (None, "got a NoneType"), (42, "got a int"), ([], "empty list"), (torch.zeros(3, 8, 8, dtype=torch.complex64), "dtype")])
def test_wrong_dtypes_shapes_and_types_get_a_message(source, message):
    with pytest.raises(PredictionInputError, match=message):
        to_model_batch(source, identity_transform)


@pytest.mark.parametrize("channels", [1, 4, 5])
def test_a_channel_count_the_model_was_not_built_for_is_explained(model, channels):
    with pytest.raises(PredictionInputError, match="cannot take a batch of shape"):
        predict(model, torch.zeros(channels, 8, 8), CLASSES)


def test_a_float64_tensor_is_converted_to_the_models_dtype(model):
    assert predict(model, torch.zeros(3, 8, 8, dtype=torch.float64), CLASSES).label in CLASSES


@pytest.mark.parametrize("values", [["a/b", "a:b"], ["x", "X"], ["a b", "a_b"], ["é", "è"], ["../up", ".._up"],
                                    ["x" * 300, "x" * 300 + "y"]])
def test_grid_values_that_clean_to_one_name_get_unique_files(tmp_path, tiny_notebook, values):
    tasks = plan_tasks([tiny_notebook], tmp_path, {"PRESET": "smoke"}, {"TAG": values})
    names = [task.output.name.casefold() for task in tasks]
    assert len(set(names)) == len(values) and all(len(name) < 200 for name in names)
    assert all(task.output.parent == tmp_path / "tiny" for task in tasks)
    checkpoint_folders = {str(task.output.with_suffix("")) + "_checkpoints" for task in tasks}
    assert len(checkpoint_folders) == len(values)


def test_the_same_notebook_twice_runs_once_and_two_namesakes_are_refused(tmp_path, tiny_notebook):
    assert len(plan_tasks([tiny_notebook, tiny_notebook], tmp_path, {}, {})) == 1
    other = tmp_path / "elsewhere"
    other.mkdir()
    with pytest.raises(ValueError, match="several notebooks are named tiny"):
        plan_tasks([tiny_notebook, write_tiny_notebook(other / "tiny.ipynb")], tmp_path, {}, {})


@pytest.mark.parametrize("parameters", [{"STEPS": object()}, {"STEPS": {3: 4}}, {"NOT_DECLARED": 1}, {"for": 1},
                                        {"STEPS\nimport os": 1}, {"STEPS": float("nan")}])
def test_the_runner_itself_refuses_undeclared_names_and_non_literals(tmp_path, tiny_notebook, parameters):
    with pytest.raises(ParameterError):
        plan_tasks([tiny_notebook], tmp_path, parameters, {})


@pytest.mark.parametrize("arguments, message", [({"per_class": 0}, "per_class"), ({"per_class": -3}, "per_class"),
                                                ({"per_class": 2.5}, "per_class"), ({"seed": -1}, "seed"),
                                                ({"image_size": -3}, "image_size"), ({"image_size": 4}, "image_size"),
                                                ({"workers": 0}, "workers"), ({"per_class": True}, "per_class")])
def test_the_generator_refuses_arguments_it_cannot_use(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_cells(tmp_path / "cells", **{"per_class": 2, "image_size": 16, **arguments})
    assert not (tmp_path / "cells").exists()


@pytest.mark.parametrize("intruder", ["notes.txt", "Parasitized/mine.png", "Uninfected/sub/", "extra/"])
def test_the_generator_keeps_a_course_folder_someone_added_to(tmp_path, intruder):
    root = make_synthetic_cells(tmp_path / "cells", per_class=3, seed=0, image_size=16, workers=1)
    target = root / intruder
    if intruder.endswith("/"):
        target.mkdir()
    else:
        target.write_bytes(b"mine")
    with pytest.raises(NotACourseFolderError, match="Nothing was changed"):
        make_synthetic_cells(root, per_class=4, seed=0, image_size=16, workers=1)
    assert target.exists() and sum(1 for _ in root.rglob("*.png")) == 6 + (intruder.endswith(".png"))
