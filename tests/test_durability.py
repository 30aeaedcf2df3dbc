"""Properties an edit could silently remove: every atomic save reaches the disk, every image is its own.

Each test fails for a plausible edit that the other tests let through (issue
29's surviving mutations): a save without ``os.fsync`` (of the file or its
folder), a rename before the sync, and a generator that repeats images, gives
two seeds the same ones or one seed different ones.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from durable_writes import assert_each_rename_is_durable, record_syncs_and_renames
from PIL import Image
from torch import nn

from helpers.checkpoints import CheckpointManager, save_atomically
from helpers.data import image_folder
from helpers.export import export_onnx, export_program
from helpers.safe_files import write_atomically
from helpers.synthetic import make_synthetic_cells


def record_fsyncs(monkeypatch) -> list[int]:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_a_checkpoint_save_syncs_the_file_and_its_folder_before_it_returns(tmp_path, monkeypatch):
    synced = record_fsyncs(monkeypatch)
    save_atomically({"weights": torch.ones(3)}, tmp_path / "epoch_0001.pt")
    assert len(synced) >= 2  # the file's bytes, then the folder entry that names it
    assert torch.load(tmp_path / "epoch_0001.pt", weights_only=True)["weights"].sum() == 3


def test_an_atomic_write_syncs_before_the_rename(tmp_path, monkeypatch):
    synced = record_fsyncs(monkeypatch)
    renamed_after: list[int] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda source, target: (renamed_after.append(len(synced)),
                                                                real_replace(source, target)))
    write_atomically(tmp_path / "report.md", "# report")
    assert renamed_after and renamed_after[0] >= 1  # the bytes were synced before the name pointed at them


def test_every_synthetic_image_is_drawn_from_its_own_seed(tmp_path):
    root = make_synthetic_cells(tmp_path / "cells", per_class=20, seed=3, image_size=32, workers=1)
    pixels = [np.asarray(Image.open(path)).tobytes() for path, _ in image_folder(root).samples]
    assert len(set(pixels)) == len(pixels)  # no two images alike: one generator per image
    again = make_synthetic_cells(tmp_path / "other", per_class=20, seed=4, image_size=32, workers=1)
    assert {np.asarray(Image.open(path)).tobytes() for path, _ in image_folder(again).samples}.isdisjoint(pixels)


def test_the_checkpoint_manager_syncs_the_epoch_file_and_best_pt(tmp_path, monkeypatch):
    manager = CheckpointManager(tmp_path / "checkpoints", verbose=False)
    events = record_syncs_and_renames(monkeypatch)
    manager.save({"weights": torch.ones(2)}, epoch=1, is_best=True)
    assert_each_rename_is_durable(events, ["epoch_0001.pt", "best.pt"])


def test_an_atomic_write_syncs_its_folder_after_the_rename(tmp_path, monkeypatch):
    events = record_syncs_and_renames(monkeypatch)
    write_atomically(tmp_path / "report.md", "# report")
    assert_each_rename_is_durable(events, ["report.md"])


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2)).eval()


def test_an_exported_program_is_synced_before_and_after_its_rename(tmp_path, monkeypatch):
    events = record_syncs_and_renames(monkeypatch)
    export_program(small_model(), torch.randn(2, 3, 8, 8), tmp_path / "model.pt2")
    assert_each_rename_is_durable(events, ["model.pt2"])


def test_an_onnx_file_is_synced_before_and_after_its_rename(tmp_path, monkeypatch):
    def write_a_stand_in(model, args, path, **options):  # the exporter itself takes seconds; its output is not tested here
        Path(path).write_bytes(b"onnx")

    monkeypatch.setattr(torch.onnx, "export", write_a_stand_in)
    events = record_syncs_and_renames(monkeypatch)
    path = export_onnx(small_model(), torch.randn(2, 3, 8, 8), tmp_path / "model.onnx")
    assert_each_rename_is_durable(events, ["model.onnx"])
    assert path.read_bytes() == b"onnx"


def file_digests(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*.png"))}


def test_the_same_seed_gives_the_same_bytes_in_every_file(tmp_path):
    first = file_digests(make_synthetic_cells(tmp_path / "first", per_class=6, seed=5, image_size=32, workers=1))
    second = file_digests(make_synthetic_cells(tmp_path / "second", per_class=6, seed=5, image_size=32, workers=1))
    assert len(first) == 12 and first == second



def sizes_by_index(root: Path) -> dict[str, tuple[int, int]]:
    """Each image's size by its number (``..._cell_<n>.png``): file names and slides change with the seed."""
    sizes = {}
    for path in root.rglob("*.png"):
        with Image.open(path) as image:
            sizes[path.stem.rsplit("_", 1)[1]] = image.size
    return sizes


def test_each_image_draws_from_the_seed_not_only_from_its_number(tmp_path):
    one, two = (sizes_by_index(make_synthetic_cells(tmp_path / f"seed{seed}", per_class=6, seed=seed, workers=1))
                for seed in (0, 1))
    assert one.keys() == two.keys() and len(one) == 12
    same = [index for index in one if one[index] == two[index]]
    assert len(same) < len(one) // 2, f"images {same} have the same size under seeds 0 and 1"
