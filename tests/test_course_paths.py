"""Where the course keeps data and checkpoints: per runtime, and the environment variables that override it."""

import os
import sys
import types

from torch import nn

from helpers.checkpoints import CheckpointManager, full_checkpoint
from helpers.course import facts, paths


def fake_colab(monkeypatch, tmp_path):
    """Stand in for Colab: a ``google.colab`` module whose ``drive.mount`` makes the MyDrive folder."""
    mounts = []

    def mount(mountpoint, force_remount=False):
        mounts.append(mountpoint)
        os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)

    google, colab = types.ModuleType("google"), types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(paths, "COLAB_DRIVE_MOUNT_POINT", tmp_path / "content" / "drive")
    monkeypatch.delenv(paths.CHECKPOINT_DIR_ENV_VAR, raising=False)
    return mounts


def test_in_colab_checkpoints_go_to_drive_when_asked(monkeypatch, tmp_path, capsys):
    mounts = fake_colab(monkeypatch, tmp_path)
    monkeypatch.setattr(paths, "COLAB_CONTENT_DIR", tmp_path / "content")
    assert paths.default_checkpoint_dir() == tmp_path / "content" / "checkpoints"
    assert mounts == [] and "a disconnect erases" in capsys.readouterr().out
    folder = paths.default_checkpoint_dir(mount_drive=True)
    assert mounts == [str(tmp_path / "content" / "drive")]
    assert folder == tmp_path / "content" / "drive" / "MyDrive" / "pytorch-course" / "checkpoints"
    manager = CheckpointManager(folder / "run", verbose=False)
    manager.save(full_checkpoint(nn.Linear(2, 2), epoch=1), epoch=1, is_best=True)
    assert (folder / "run" / "best.pt").is_file()
    paths.default_checkpoint_dir(mount_drive=True)
    assert len(mounts) == 1, "an already mounted Drive is not mounted again"


def test_kaggle_and_local_folders(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.CHECKPOINT_DIR_ENV_VAR, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    assert paths.default_checkpoint_dir() == facts.CHECKOUT_ROOT / "checkpoints"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setattr(paths, "KAGGLE_WORKING_DIR", tmp_path / "kaggle" / "working")
    assert paths.default_checkpoint_dir() == tmp_path / "kaggle" / "working" / "checkpoints"
    monkeypatch.setenv(paths.CHECKPOINT_DIR_ENV_VAR, str(tmp_path / "mine"))
    assert paths.default_checkpoint_dir() == tmp_path / "mine"


def test_data_lands_in_colab_kaggle_or_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.DATA_DIR_ENV_VAR, raising=False)
    monkeypatch.setattr(paths, "COLAB_CONTENT_DIR", tmp_path / "content")
    monkeypatch.setattr(paths, "KAGGLE_WORKING_DIR", tmp_path / "kaggle" / "working")
    monkeypatch.setattr(paths, "KAGGLE_TEMP_DIR", tmp_path / "kaggle" / "temp")
    assert paths.data_dir() == facts.CHECKOUT_ROOT / "data"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert paths.data_dir() == tmp_path / "content" / "data"
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    assert paths.data_dir() == tmp_path / "kaggle" / "temp" / "data"  # never in the saved output
    monkeypatch.setenv(paths.DATA_DIR_ENV_VAR, str(tmp_path / "mine"))
    assert paths.data_dir() == tmp_path / "mine"
