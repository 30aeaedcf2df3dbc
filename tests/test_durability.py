"""Properties an edit could silently remove: every atomic save reaches the disk, every image is its own.

Each test fails for a plausible edit that the other tests let through (issue
29's surviving mutations): a save without ``os.fsync`` (of the file or its
folder), a rename before the sync, and a generator that repeats images or gives
two seeds the same ones.
"""

import os

import numpy as np
import torch
from PIL import Image

from helpers.checkpoints import save_atomically
from helpers.data import image_folder
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
