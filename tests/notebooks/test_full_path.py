"""The `full` preset's real-data path, end to end at miniature size, with no GPU and no internet.

A small zip in the NIH layout (both classes, every naming form of the real file names, cells of
real-looking sizes, Windows' Thumbs.db) is served over HTTP on 127.0.0.1. Notebooks 03, 09 and 11
(those with a USE_REAL_DATA parameter) run in the `full` preset at 224 px through the real download
code of helpers.nih (a streamed download, the SHA-256 check, safe extraction), then reuse. A ResNet-18
weights file in a temporary TORCH_HOME, under the name torchvision expects, is loaded through
`ResNet18_Weights.DEFAULT`.
"""

import functools
import hashlib
import http.server
import os
import threading
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from helpers.course import facts
from helpers.data import image_folder, patient_of, patient_split
from helpers.tools.runner import RunTask, run_notebook, run_tasks

INFECTED_SLIDES = ["C33P1thinF_IMG_20150619_114756a", "C39P4thinF_original_IMG_20150622_105102",
                   "C68P29N_ThinF_IMG_20150819_134112", "C183P144NThinF_IMG_20151201_224458",
                   "C100P61ThinF_IMG_20150918_144104"]
HEALTHY_SLIDES = ["C1_thinF_IMG_20150604_104722", "C3thin_original_IMG_20150608_162835",
                  "C2NThinF_IMG_20150604_114631", "C230ThinF_IMG_20151112_150329"]
CELLS_PER_SLIDE = 3


def cell_png(rng: np.random.Generator, stain: np.ndarray, parasitized: bool) -> bytes:
    """A cell like the NIH crops: a stained disc on black, 100 to 160 pixels a side, a dark ring if infected."""
    height, width = rng.integers(100, 160, size=2)
    rows, columns = np.mgrid[:height, :width]
    inside = ((rows - height / 2) / (height / 2.2)) ** 2 + ((columns - width / 2) / (width / 2.2)) ** 2 < 1
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[inside] = np.clip(stain + rng.normal(0, 6, size=(inside.sum(), 3)), 0, 255)
    if parasitized:
        centre = rng.integers(height // 3, 2 * height // 3), rng.integers(width // 3, 2 * width // 3)
        ring = np.abs(np.hypot(rows - centre[0], columns - centre[1]) - 8) < 3
        pixels[ring & inside] = (90, 40, 120)
    buffer = BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def nih_layout_members(seed: int = 0) -> dict[str, bytes]:
    """Zip members named like the real data set: infected slides have cells in both class folders."""
    rng = np.random.default_rng(seed)
    members = {"cell_images/Parasitized/Thumbs.db": b"windows", "cell_images/Uninfected/Thumbs.db": b"windows"}
    for slide in INFECTED_SLIDES + HEALTHY_SLIDES:
        stain = rng.uniform(150, 230, size=3)
        for cell in range(CELLS_PER_SLIDE):
            parasitized = slide in INFECTED_SLIDES and cell > 0
            folder = "Parasitized" if parasitized else "Uninfected"
            members[f"cell_images/{folder}/{slide}_cell_{100 + cell}.png"] = cell_png(rng, stain, parasitized)
    return members


@pytest.fixture(scope="module")
def served_zip(tmp_path_factory):
    """(url, sha256, request counter) of an NIH-layout zip served on loopback."""
    folder = tmp_path_factory.mktemp("served")
    with zipfile.ZipFile(folder / "cell_images.zip", "w") as archive:
        for name, data in nih_layout_members().items():
            archive.writestr(name, data)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sha256 = hashlib.sha256((folder / "cell_images.zip").read_bytes()).hexdigest()
    yield f"http://127.0.0.1:{server.server_address[1]}/cell_images.zip", sha256, requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def torch_home_with_resnet18(tmp_path, monkeypatch):
    """A TORCH_HOME whose cache holds a randomly initialised ResNet-18 under the ImageNet file's name."""
    home = tmp_path / "torch_home"
    weights_file = home / "hub" / "checkpoints" / os.path.basename(torchvision.models.ResNet18_Weights.DEFAULT.url)
    weights_file.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), weights_file)
    monkeypatch.setenv("TORCH_HOME", str(home))
    return weights_file


def text_outputs(notebook_path: str) -> str:
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    return "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))


def test_the_full_preset_runs_on_real_layout_data_through_the_real_download(served_zip, torch_home_with_resnet18,
                                                                           tmp_path):
    url, sha256, requests = served_zip
    data = tmp_path / "data"
    common = {"PRESET": "full", "USE_REAL_DATA": True, "IMAGE_SIZE": 224, "BATCH_SIZE": 8,
              "DATA_DIR": str(data), "NIH_URL": url, "NIH_SHA256": sha256}
    runs = {}
    first = "03_datasets_and_loaders.ipynb"  # downloads and extracts; 09 and 11 then reuse the data, side by side
    runs[first] = run_notebook(facts.NOTEBOOKS_DIR / first, tmp_path / "runs" / first, common)
    assert runs[first].passed, runs[first].failure_text()
    then = {"09_prediction.ipynb": {"EPOCHS": 1, "DEVICE": "cpu"},
            "11_capstone_malaria.ipynb": {"EPOCHS": 1, "PATIENCE": 1, "DEVICE": "cpu"}}
    tasks = [RunTask(facts.NOTEBOOKS_DIR / name, tmp_path / "runs" / name, {**common, **extra})
             for name, extra in then.items()]
    for name, run in zip(then, run_tasks(tasks, jobs=2)):
        assert run.passed, run.failure_text()
        runs[name] = run

    assert requests == ["/cell_images.zip"]  # downloaded once, then reused by 09 and 11
    root = data / "cell_images" / "cell_images"
    assert sorted(p.name for p in root.iterdir()) == ["Parasitized", "Uninfected"]
    assert not list(root.rglob("Thumbs.db")) and not list(data.glob("cell_images.partial*"))
    assert (data / "downloads" / "cell_images.zip").is_file()

    loaders_records = runs["03_datasets_and_loaders.ipynb"].records
    assert loaders_records["patient_split_test_patients_seen_in_training"] == 0
    capstone = runs["11_capstone_malaria.ipynb"]
    assert capstone.records["transfer_model"] == "ResNet-18 (ImageNet weights)"
    assert capstone.records["test_images"] > 0
    assert "NIH malaria images" in text_outputs(capstone.output)
    assert "image_size=224" in text_outputs(capstone.output) and "num_workers=None" in text_outputs(capstone.output)


def test_the_miniature_zip_splits_every_slide_into_one_part(tmp_path):
    for name, data in nih_layout_members().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    dataset = image_folder(tmp_path / "cell_images")
    assert len(dataset) == (len(INFECTED_SLIDES) + len(HEALTHY_SLIDES)) * CELLS_PER_SLIDE
    slides = {patient_of(path) for path, _ in dataset.samples}
    assert slides == {"C33P1", "C39P4", "C68P29", "C183P144", "C100P61", "C1", "C3", "C2", "C230"}
    split = patient_split(dataset.samples, dataset.class_to_idx["Parasitized"], seed=0)
    parts = [{patient_of(dataset.samples[i][0]) for i in indices} for indices in (split.train, split.valid, split.test)]
    assert sum(len(part) for part in parts) == len(slides)  # no slide in two parts
    for indices in (split.train, split.valid, split.test):
        assert {dataset.samples[i][1] for i in indices} == {0, 1}


def test_offline_the_capstone_falls_back_to_the_course_backbone_and_says_so(tmp_path, monkeypatch, capsys):
    """Notebook 11's model cell in the `full` preset, run here with an empty cache and no network."""
    import nbformat
    from urllib.error import URLError

    from helpers.course.presets import resolve_settings

    def offline(*args, **kwargs):
        raise URLError("no network here")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    notebook = nbformat.read(facts.NOTEBOOKS_DIR / "11_capstone_malaria.ipynb", as_version=4)
    model_cell = next(cell.source for cell in notebook.cells if "def make_transfer_model" in cell.source)
    settings = resolve_settings("full")
    namespace = {"settings": settings, "nn": torch.nn, "torch": torch, "FINE_TUNE_LEARNING_RATE": 0.0003}
    exec(model_cell, namespace)
    assert namespace["transfer_name"] == "course backbone (pretrained on shapes)"
    assert namespace["transfer_learning_rate"] == settings.learning_rate  # not the fine-tuning one
    assert "ImageNet weights unavailable" in capsys.readouterr().out
