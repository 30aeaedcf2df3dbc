"""The graduation contract: a notebook cell whose code graduates into the library says so, and both agree.

A code cell marked with ``"graduates_to"`` in its metadata (a library function's
dotted name, or a list of them) is run here on a small seeded input, and so is
the library function; the two results are compared. Where the library differs
on purpose, the parity case names the difference, asserts it, and the markdown
next to the cell says it (``bridge``: words that text must contain).

The marks are discovered from the notebooks, so a new mark without a parity case
fails, and so does a parity case whose mark was removed.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
import torch
import torchvision
from durable_writes import record_syncs_and_renames
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, DistributedSampler, SubsetRandomSampler
from torchvision.datasets import ImageFolder

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARK = "graduates_to"
"""The cell-metadata key that names the library function(s) a cell's code graduates into (see CONTRIBUTING.md)."""


@dataclass(frozen=True)
class MarkedCell:
    notebook: str
    index: int
    target: str
    source: str
    bridge: str
    """The markdown just before and just after the cell: where a difference on purpose is said."""

    @property
    def key(self) -> tuple[str, str]:
        return self.notebook[:2], self.target

    def run(self, namespace: dict) -> dict:
        """Execute the cell's code in ``namespace`` (its output swallowed) and return the namespace."""
        code = compile(self.source, f"<{self.notebook} cell {self.index}>", "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)
        return namespace


def _bridge(cells: list, index: int) -> str:
    before = next((cell.source for cell in reversed(cells[:index]) if cell.cell_type == "markdown"), "")
    after = next((cell.source for cell in cells[index + 1:] if cell.cell_type == "markdown"), "")
    return before + "\n" + after


def marked_cells() -> list[MarkedCell]:
    marks = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            if MARK not in cell.metadata:
                continue
            targets = cell.metadata[MARK]
            for target in [targets] if isinstance(targets, str) else targets:
                marks.append(MarkedCell(path.stem, index, target, cell.source, _bridge(cells, index)))
    return marks


MARKS = marked_cells()


@dataclass(frozen=True)
class ParityCase:
    check: Callable
    bridge: tuple[str, ...]
    slow: bool


PARITY: dict[tuple[str, str], ParityCase] = {}


def parity(notebook: str, *targets: str, bridge: tuple[str, ...] = (), slow: bool = False):
    """Register a parity case for the cell of ``notebook`` (its number) marked with ``targets``."""
    def register(check: Callable) -> Callable:
        for target in targets:
            PARITY[notebook, target] = ParityCase(check, bridge, slow)
        return check

    return register


def record(name: str, value: object) -> None:
    """Stands in for the notebooks' ``helpers.course.records.record``."""


def seeded_images(count: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


def cell_folder(root: Path, per_class: int = 10, seed: int = 0) -> Path:
    """Two class folders of seeded RGB PNGs named like the NIH files."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(("Parasitized", "Uninfected")):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"C{index}P{label}thinF_IMG_cell_{index}.png")
    return root


# ---------------------------------------------------------------- 02 transforms

@parity("02", "helpers.transforms.train_transforms", "helpers.transforms.eval_transforms")
def transforms_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.transforms import eval_transforms, train_transforms

    cell_ns = cell.run({"settings": SimpleNamespace(image_size=32), "transforms": torchvision.transforms})
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8))
    assert torch.allclose(cell_ns["eval_transforms"](image), eval_transforms(32)(image), atol=1e-6)
    taught = [type(step).__name__ for step in cell_ns["train_transforms"].transforms]
    library = [type(step).__name__ for step in train_transforms(32).transforms]
    # the library uses torchvision's transforms.v2, where ToTensor is ToImage + ToDtype(scale=True)
    assert [name for name in library if name not in ("ToImage", "ToDtype")] == [
        name for name in taught if name != "ToTensor"]
    torch.manual_seed(0)
    augmented = cell_ns["train_transforms"](image)
    assert augmented.shape == train_transforms(32)(image).shape == (3, 32, 32)


# ---------------------------------------------------------------- 03 data sets and loaders

@parity("03", "helpers.data.image_folder", bridge=("hidden", "decoder"))
def image_folder_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.data import image_folder

    root = cell_folder(tmp_path / "cells")
    taught = cell.run({"ImageFolder": ImageFolder, "cells_root": root, "Path": Path, "record": record,
                       "by_hand": SimpleNamespace(samples=[])})["dataset"]
    library = image_folder(root)
    assert (taught.classes, taught.samples) == (library.classes, library.samples)
    assert np.array_equal(np.asarray(taught[0][0]), np.asarray(library[0][0]))
    # difference on purpose 1: a hidden folder (JupyterLab's .ipynb_checkpoints/) is never a class
    (root / ".ipynb_checkpoints").mkdir()
    Image.new("RGB", (4, 4)).save(root / ".ipynb_checkpoints" / "copy.png")
    taught = cell.run({"ImageFolder": ImageFolder, "cells_root": root, "Path": Path, "record": record,
                       "by_hand": SimpleNamespace(samples=[])})["dataset"]
    assert taught.classes == [".ipynb_checkpoints", "Parasitized", "Uninfected"]
    assert image_folder(root).classes == ["Parasitized", "Uninfected"]
    # difference on purpose 2: the one decoder composites transparency on black, as prediction does
    shutil.rmtree(root / ".ipynb_checkpoints")
    rgba = Image.new("RGBA", (20, 20), (200, 120, 160, 0))
    rgba.save(root / "Parasitized" / "C99P0thinF_IMG_cell_99.png")
    taught = ImageFolder(root)
    library = image_folder(root)
    position = [path for path, _ in library.samples].index(str(root / "Parasitized" / "C99P0thinF_IMG_cell_99.png"))
    assert taught[position][0].getpixel((0, 0)) == (200, 120, 160)
    assert library[position][0].getpixel((0, 0)) == (0, 0, 0)


@parity("03", "helpers.data.random_split", "helpers.data.make_loaders", bridge=("seeded",))
def split_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.data import make_loaders, random_split
    from helpers.transforms import eval_transforms, train_transforms

    root = cell_folder(tmp_path / "cells", per_class=12)
    settings = SimpleNamespace(image_size=16, batch_size=4, seed=3)
    namespace = cell.run({"ImageFolder": ImageFolder, "cells_root": root, "settings": settings, "np": np,
                          "torch": torch, "DataLoader": DataLoader, "SubsetRandomSampler": SubsetRandomSampler,
                          "train_transforms": train_transforms, "eval_transforms": eval_transforms})
    parts = random_split(24, seed=3, valid_fraction=0.2, test_fraction=0.1)
    assert (namespace["train_idx"], namespace["valid_idx"], namespace["test_idx"]) == (
        parts.train, parts.valid, parts.test)
    loaders = make_loaders(root, image_size=16, batch_size=4, split="random", seed=3)
    assert loaders.split == parts
    # difference on purpose: the library's samplers are seeded, so a run shuffles the same way every time
    assert namespace["train_loader"].sampler.generator is None
    again = make_loaders(root, image_size=16, batch_size=4, split="random", seed=3)
    assert list(loaders.train.sampler) == list(again.train.sampler)


# ---------------------------------------------------------------- 04 models

@parity("04", "helpers.models.make_small_backbone", "helpers.models.make_classifier",
        bridge=("BatchNorm", "logits"))
def small_cnn_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.models import make_classifier, make_small_backbone, make_small_cnn

    torch.manual_seed(0)
    taught = cell.run({"nn": nn, "OrderedDict": OrderedDict})["cnn"].eval()
    torch.manual_seed(0)
    backbone = make_small_backbone()
    library = nn.Sequential(OrderedDict([*backbone.named_children(),
                                         ("classifier", make_classifier(64, 32, 2, dropout=0.2))])).eval()
    assert {name: tuple(t.shape) for name, t in taught.state_dict().items()} == {
        name: tuple(t.shape) for name, t in library.state_dict().items()}
    images = seeded_images(3)
    with torch.no_grad():
        assert torch.equal(taught(images), library(images))
    # difference on purpose: make_small_cnn adds BatchNorm after each convolution and gives logits
    cnn = make_small_cnn()
    assert any(isinstance(layer, nn.BatchNorm2d) for layer in cnn.modules())
    assert not isinstance(cnn.classifier[-1], nn.LogSoftmax) and isinstance(taught.classifier[-1], nn.LogSoftmax)


# ---------------------------------------------------------------- 05 transfer learning

@parity("05", "helpers.models.freeze", "helpers.pretrained.build_transfer_model")
def freeze_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.models import count_parameters, freeze
    from helpers.pretrained import build_transfer_model

    torch.manual_seed(0)
    taught = cell.run({"resnet": torchvision.models.resnet18(weights=None), "nn": nn,
                       "count_parameters": count_parameters, "record": record})["resnet"]
    torch.manual_seed(0)
    frozen = freeze(torchvision.models.resnet18(weights=None))
    frozen.fc = nn.Linear(frozen.fc.in_features, 2)
    built = build_transfer_model("resnet18", num_classes=2)
    for model in (frozen, built):
        assert [(n, p.requires_grad, tuple(p.shape)) for n, p in taught.named_parameters()] == [
            (n, p.requires_grad, tuple(p.shape)) for n, p in model.named_parameters()]
    assert count_parameters(taught) == count_parameters(built)
    assert all(torch.equal(a, b) for a, b in zip(taught.state_dict().values(), frozen.state_dict().values()))


# ---------------------------------------------------------------- 06 the training loop

def training_batches(count: int, seed: int, flipped: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches whose label is whether the red channel is brighter than the green; ``flipped``: the opposite.

    Validating on flipped labels makes the validation loss rise as the model learns, so the best epoch is an early one.
    """
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        images = torch.randn(4, 3, 16, 16, generator=generator)
        labels = (images[:, 0].mean(dim=(1, 2)) > images[:, 1].mean(dim=(1, 2))).long()
        batches.append((images, 1 - labels if flipped else labels))
    return batches


@parity("06", "helpers.engine.train_one_epoch", "helpers.engine.evaluate", "helpers.engine.fit",
        bridge=("best", "mixed precision", "BatchNorm", "atomically"))
def training_loop_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from tqdm import tqdm

    from helpers import engine
    from helpers.checkpoints import CheckpointManager
    from helpers.engine import fit
    from helpers.models import make_small_cnn

    train, valid = training_batches(3, seed=1), training_batches(1, seed=2, flipped=True)
    settings = SimpleNamespace(seed=5, epochs=3, learning_rate=0.03)
    events = record_syncs_and_renames(monkeypatch)
    taught = cell.run({"default_checkpoint_dir": lambda: tmp_path, "torch": torch, "make_small_cnn": make_small_cnn,
                       "device": torch.device("cpu"), "settings": settings, "criterion": nn.CrossEntropyLoss(),
                       "loaders": SimpleNamespace(train=train, valid=valid), "tqdm": tqdm, "sys": sys})
    assert "fsync" not in events  # the hand loop saves with a plain torch.save
    torch.manual_seed(settings.seed)
    model = make_small_cnn()
    manager = CheckpointManager(tmp_path / "fit", keep_last=settings.epochs, verbose=False)
    history = fit(model, train, valid, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=settings.learning_rate),
                  settings.epochs, device="cpu", progress=False, checkpoints=manager)
    for key in ("train_loss", "train_accuracy", "valid_loss", "valid_accuracy"):
        assert np.allclose(taught["history"][key], getattr(history, key), rtol=1e-5, atol=1e-6), key
    last_epoch = torch.load(manager.epoch_files()[-1], weights_only=True)["model"]
    assert all(torch.equal(tensor, last_epoch[name]) for name, tensor in taught["model"].state_dict().items())
    # difference on purpose 1: fit saves atomically (synced to disk) through its CheckpointManager
    assert "fsync" in events
    # difference on purpose 2: fit keeps the best weights (always), the loop the last ones
    assert history.best_epoch < settings.epochs, "the seeded run should have its best epoch before its last"
    saved_by_the_loop = torch.load(taught["checkpoint_path"], weights_only=True)
    assert all(torch.equal(saved_by_the_loop[name], tensor) for name, tensor in model.state_dict().items())
    # difference on purpose 3: on a CUDA GPU fit trains in mixed precision unless told precision="float32"
    monkeypatch.setattr(engine, "autocast_dtype", lambda device: torch.bfloat16)
    assert engine.training_precision(torch.device("cuda")).dtype == torch.bfloat16
    assert engine.training_precision(torch.device("cuda"), "float32").dtype is None
    # difference on purpose 4: a frozen BatchNorm stays in eval mode, keeping its statistics
    frozen = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    frozen[1].requires_grad_(False)
    frozen(train[0][0])
    statistics = frozen[1].running_mean.clone()
    engine.train_one_epoch(frozen, train, nn.CrossEntropyLoss(),
                           torch.optim.SGD([p for p in frozen.parameters() if p.requires_grad], lr=0.1), "cpu")
    assert torch.equal(frozen[1].running_mean, statistics)


# ---------------------------------------------------------------- 07 devices

@parity("07", "helpers.devices.choose_device", bridge=("MPS",))
def device_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.devices import choose_device

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for cuda in (False, True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        assert cell.run({"torch": torch})["device"] == choose_device("auto")
    # difference on purpose: the library also picks Apple's MPS when there is no CUDA GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cell.run({"torch": torch})["device"].type == "cpu" and choose_device("auto").type == "mps"


# ---------------------------------------------------------------- 08 checkpoints

@parity("08", "helpers.checkpoints.full_checkpoint", bridge=("random",))
def full_checkpoint_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.checkpoints import full_checkpoint

    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    namespace = cell.run({"torch": torch, "model": model, "settings": SimpleNamespace(learning_rate=0.01),
                          "checkpoint_dir": tmp_path})
    by_hand = torch.load(tmp_path / "by_hand.pt", weights_only=True)
    library = full_checkpoint(model, namespace["optimizer"], epoch=0)
    assert set(by_hand) < set(library)
    assert all(torch.equal(by_hand["model"][name], t) for name, t in library["model"].items())
    assert by_hand["optimizer"] == library["optimizer"] and by_hand["epoch"] == library["epoch"]
    # difference on purpose: the library also keeps the scheduler and the random generators' states
    assert {"scheduler", "rng"} <= set(library) - set(by_hand)


@parity("08", "helpers.checkpoints.save_atomically", bridge=("fsync", ".tmp"))
def save_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.checkpoints import save_atomically

    my_save = cell.run({"torch": torch})["answer_save"]
    weights = {"weight": torch.arange(6.0).reshape(2, 3)}
    events = record_syncs_and_renames(monkeypatch)
    temporaries = []
    recording_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda source, target: (temporaries.append(Path(source).name),
                                                                recording_replace(source, target)))
    my_save(weights, tmp_path / "mine.pt")
    solution_events, events[:] = list(events), []
    save_atomically(weights, tmp_path / "library.pt")
    for name in ("mine.pt", "library.pt"):
        assert torch.equal(torch.load(tmp_path / name, weights_only=True)["weight"], weights["weight"])
    # difference on purpose: save_atomically fsyncs the file and the folder and names its temporary after its writer
    assert solution_events == ["replace mine.pt"] and events.count("fsync") >= 2
    assert temporaries[0] == "mine.pt.tmp" and temporaries[1].startswith(f".library.pt.{os.getpid()}.")


# ---------------------------------------------------------------- 09 prediction

def tiny_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2))


@parity("09", "helpers.predict.predict", bridge=("eval", "dtype", "2,048"))
def predict_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.predict import predict

    classes = ["Parasitized", "Uninfected"]
    model, tensor = tiny_classifier().eval(), seeded_images(1)[0]
    namespace = cell.run({"tensor": tensor, "model": model, "device": torch.device("cpu"), "torch": torch,
                          "classes": classes, "record": record})
    answer = predict(model, tensor, classes)
    assert answer.label == classes[namespace["top_index"].item()]
    assert answer.probability == pytest.approx(namespace["top_probability"].item(), abs=1e-6)
    # differences on purpose: predict puts the model in eval mode (and back) and casts the batch to its dtype
    model.train()
    assert predict(model, tensor, classes) == answer and model.training
    doubled = tiny_classifier().double().eval()
    with pytest.raises(RuntimeError):
        cell.run({"tensor": tensor, "model": doubled, "device": torch.device("cpu"), "torch": torch,
                  "classes": classes, "record": record})
    assert predict(doubled, tensor, classes).label in classes


@parity("09", "helpers.predict.top_predictions")
def top_k_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.predict import top_predictions

    classes = ["Parasitized", "Uninfected"]
    namespace = cell.run({"model": tiny_classifier().eval(), "device": torch.device("cpu"), "torch": torch,
                          "loaders": SimpleNamespace(test=[(seeded_images(6), torch.zeros(6))]),
                          "classes": classes, "record": record})
    ranked = top_predictions(namespace["four_probabilities"], classes, k=2)
    assert [[name for name, _ in row] for row in ranked] == [
        [classes[i] for i in row] for row in namespace["top_indices"].tolist()]
    assert np.allclose([[value for _, value in row] for row in ranked], namespace["top_values"].numpy())


# ---------------------------------------------------------------- 10 deployment

def tiny_onnx_file(path: Path) -> Path:
    """A hand-built ONNX model (images -> logits: flatten, then a seeded matrix product), made in milliseconds."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).standard_normal((3 * 4 * 4, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["images"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "weights"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 4, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        initializer=[numpy_helper.from_array(weights, "weights")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what every onnxruntime the course supports reads
    onnx.save(model, path)
    return path


@parity("10", "helpers.export.onnx_session", "helpers.export.run_onnx")
def onnx_runtime_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers.export import max_abs_difference, onnx_session, run_onnx

    path = tiny_onnx_file(tmp_path / "model.onnx")
    batch = seeded_images(5, size=4)
    library = run_onnx(onnx_session(path), batch)
    namespace = cell.run({"artefacts": tmp_path, "test_batch": batch, "reference": torch.as_tensor(library),
                          "max_abs_difference": max_abs_difference, "ONNX_TOLERANCE": 1e-4, "record": record})
    assert np.array_equal(namespace["onnx_outputs"], library)


@parity("10", "helpers.export.export_onnx", bridge=("eval",), slow=True)
def export_onnx_parity(cell: MarkedCell, tmp_path, monkeypatch):
    import onnx

    from helpers.export import export_onnx, onnx_session, run_onnx

    model = tiny_classifier().eval()
    example = seeded_images(2)
    cell.run({"torch": torch, "model": model, "example": example, "artefacts": tmp_path,
              "batch": torch.export.Dim("batch", min=1, max=4096)})
    library = export_onnx(model, example, tmp_path / "library.onnx")
    batch = seeded_images(5)
    assert np.allclose(run_onnx(onnx_session(tmp_path / "model.onnx"), batch),
                       run_onnx(onnx_session(library), batch), atol=1e-6)
    assert [i.name for i in onnx.load(library).graph.input] == ["images"]
    # difference on purpose: export_onnx exports in eval() mode whatever the model's mode, and leaves it as it was
    model.train()
    export_onnx(model, example, tmp_path / "from_training_mode.onnx")
    assert model.training
    assert np.allclose(run_onnx(onnx_session(tmp_path / "from_training_mode.onnx"), batch),
                       run_onnx(onnx_session(library), batch), atol=1e-6)


# ---------------------------------------------------------------- 12 distributed training

@parity("12", "helpers.distributed.train_single_process", "helpers.distributed.train_epochs")
def single_process_parity(cell: MarkedCell, tmp_path, monkeypatch):
    from helpers import distributed

    config = distributed.RunConfig(samples=64, features=4, batch_size=8, epochs=2, learning_rate=0.1, seed=2)
    namespace = cell.run({"distributed": distributed, "config": config, "DistributedSampler": DistributedSampler,
                          "DataLoader": DataLoader, "torch": torch, "F": F, "record": record,
                          "global_batch_size": distributed.effective_batch_size(config.batch_size, 2)})
    model, losses = distributed.train_single_process(config, world_size=2)
    assert np.allclose(namespace["single_epoch_losses"], losses, rtol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(namespace["reference"].state_dict().values(),
                                                 model.state_dict().values()))


# ---------------------------------------------------------------- the contract itself

def test_the_notebooks_mark_cells_that_graduate():
    assert len(MARKS) >= 10
    numbers = {mark.notebook[:2] for mark in MARKS}
    assert {"02", "03", "04", "05", "06", "07", "08", "09", "10", "12"} <= numbers


@pytest.mark.parametrize("mark", MARKS, ids=lambda mark: f"{mark.notebook[:2]}-cell{mark.index}-{mark.target}")
def test_every_mark_names_a_library_function_and_has_a_parity_case(mark):
    module_name, _, name = mark.target.rpartition(".")
    assert module_name.startswith("helpers.") and not module_name.startswith(("helpers.course", "helpers.tools"))
    assert callable(getattr(importlib.import_module(module_name), name)), f"{mark.target} is not in the library"
    assert mark.key in PARITY, (f"{mark.notebook} cell {mark.index} is marked {MARK}={mark.target!r} but "
                                "tests/test_graduation.py has no parity case for it: add one with @parity")


def test_every_parity_case_has_its_mark():
    marked = {mark.key for mark in MARKS}
    assert sorted(key for key in PARITY if key not in marked) == []


def parity_params():
    seen, params = set(), []
    for mark in MARKS:
        case = PARITY.get(mark.key)
        if case is None or (mark.notebook, mark.index, case.check) in seen:
            continue  # a cell with several targets checked by one case runs once
        seen.add((mark.notebook, mark.index, case.check))
        params.append(pytest.param(mark, case, id=f"{mark.notebook[:2]}-cell{mark.index}-{case.check.__name__}",
                                   marks=[pytest.mark.slow] if case.slow else []))
    return params


@pytest.mark.parametrize(("mark", "case"), parity_params())
def test_the_cell_and_the_library_agree(mark, case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case.check(mark, tmp_path, monkeypatch)


@pytest.mark.parametrize(("mark", "case"), [pytest.param(*param.values, id=param.id) for param in parity_params()
                                            if param.values[1].bridge])
def test_a_difference_on_purpose_is_said_next_to_the_cell(mark, case):
    missing = [word for word in case.bridge if word.lower() not in mark.bridge.lower()]
    assert not missing, (f"the markdown next to {mark.notebook} cell {mark.index} should say how the library "
                         f"differs ({', '.join(missing)} not found)")
