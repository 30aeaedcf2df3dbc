"""Checkpoints against hostile files, wrong arguments and faults injected between the two saves of an epoch."""

import os
import pickle

import pytest
import torch
from torch import nn

from helpers import checkpoints
from helpers.checkpoints import (
    CheckpointDeviceError,
    CheckpointManager,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    full_checkpoint,
    load_checkpoint,
    save_atomically,
)


class Payload:
    """Unpickling this runs code: the suite checks it never does."""

    def __reduce__(self):
        return (os.system, ("touch INJECTED_CODE_RAN",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_plain_pickle_with_code_is_refused_as_not_a_plain_checkpoint(tmp_path, monkeypatch, protocol):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"model": Payload()}, protocol=protocol))
    with pytest.raises(UnsafeCheckpointError, match="not a plain checkpoint"):
        load_checkpoint(path)
    assert not (tmp_path / "INJECTED_CODE_RAN").exists()


def test_a_torch_saved_object_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"model": Payload()}, tmp_path / "model.pt")
    with pytest.raises(UnsafeCheckpointError, match="not a plain checkpoint"):
        load_checkpoint(tmp_path / "model.pt")
    assert not (tmp_path / "INJECTED_CODE_RAN").exists()


@pytest.mark.parametrize("content", [b"", b"PK", b"PK\x03\x04garbage", b"\x80", b"hello world", b"\x00" * 100,
                                     b"<html>404 Not Found</html>"])
def test_damaged_files_are_called_truncated_or_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError, match="truncated or is not a PyTorch checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("map_location", ["gpu", "cuda:x", "CPU!", "", "tpu:0:1"])
def test_a_bad_map_location_is_a_bad_device_not_corruption(tmp_path, map_location):
    path = save_atomically({"w": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="is not a device"):
        load_checkpoint(path, map_location=map_location)


def test_a_folder_or_missing_path_is_named(tmp_path):
    for path in (tmp_path, tmp_path / "missing.pt"):
        with pytest.raises(FileNotFoundError, match="No checkpoint at"):
            load_checkpoint(path)


def state(epoch, best_epoch, model=None):
    model = model or nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.fill_(epoch)
    history = {"best_epoch": best_epoch, "valid_loss": [1.0 / e for e in range(1, epoch + 1)]}
    return full_checkpoint(model, epoch=epoch, history=history)


def epochs_in(manager):
    return [int(p.name[6:10]) for p in manager.epoch_files()]


@pytest.mark.parametrize("sequence, kept, moved", [([4, 5, 1], [1], [4, 5]), ([1, 2, 3, 1], [1], [2, 3]),
                                                   ([5, 6, 7, 2, 3], [2, 3], [6, 7]), ([3, 3, 3], [3], []),
                                                   ([1, 2, 3, 4], [3, 4], []), ([9, 1, 2], [1, 2], [9])])
def test_pruning_never_removes_the_file_just_saved_nor_mixes_runs(tmp_path, sequence, kept, moved):
    manager = CheckpointManager(tmp_path, keep_last=2, verbose=False)
    for epoch in sequence:
        saved = manager.save(state(epoch, epoch), epoch=epoch, is_best=True)
        assert saved.is_file() and load_checkpoint(saved)["epoch"] == epoch
    assert epochs_in(manager) == kept
    assert load_checkpoint(manager.best_path)["epoch"] == sequence[-1]
    aside = sorted(int(p.name[6:10]) for p in tmp_path.glob("earlier_run_*/epoch_*.pt"))
    assert aside == moved  # another run's files are moved aside, never deleted nor mixed in
    assert len(list(tmp_path.glob("earlier_run_*/best.pt"))) == (1 if moved else 0)


@pytest.mark.parametrize("epoch", [0, -1, 1.5, "3", True])
def test_a_bad_epoch_number_is_refused(tmp_path, epoch):
    with pytest.raises(ValueError, match="epoch must be a whole number"):
        CheckpointManager(tmp_path, verbose=False).save({"epoch": 1}, epoch=epoch)


@pytest.mark.parametrize("keep_last", [0, -1, 1.5, "2"])
def test_a_bad_keep_last_is_refused(tmp_path, keep_last):
    with pytest.raises(ValueError, match="keep_last"):
        CheckpointManager(tmp_path, keep_last=keep_last)


def test_a_file_as_checkpoint_folder_is_refused(tmp_path):
    (tmp_path / "ckpt").write_text("mine")
    with pytest.raises(NotADirectoryError, match="is a file"):
        CheckpointManager(tmp_path / "ckpt")
    assert (tmp_path / "ckpt").read_text() == "mine"


def kill_between_the_two_saves(monkeypatch, manager, epoch):
    """Save ``epoch`` as best, with the process 'killed' after the epoch file and before best.pt."""
    real = checkpoints.save_atomically

    def save_then_die_before_best(obj, path):
        if str(path).endswith(checkpoints.BEST_FILE):
            raise KeyboardInterrupt("killed between the epoch file and best.pt")
        return real(obj, path)

    monkeypatch.setattr(checkpoints, "save_atomically", save_then_die_before_best)
    with pytest.raises(KeyboardInterrupt):
        manager.save(state(epoch, epoch), epoch=epoch, is_best=True)
    monkeypatch.setattr(checkpoints, "save_atomically", real)


@pytest.mark.parametrize("killed_epoch", [2, 3, 4])
def test_a_kill_between_epoch_and_best_still_restores_the_best_weights(tmp_path, monkeypatch, killed_epoch):
    manager = CheckpointManager(tmp_path, keep_last=2, verbose=False)
    manager.save(state(1, 1), epoch=1, is_best=True)
    for epoch in range(2, killed_epoch):
        manager.save(state(epoch, 1), epoch=epoch, is_best=False)
    kill_between_the_two_saves(monkeypatch, manager, killed_epoch)
    resumed = CheckpointManager(tmp_path, keep_last=2, verbose=False)
    checkpoint = resumed.resume(nn.Linear(4, 2))
    assert checkpoint["history"]["best_epoch"] == killed_epoch
    assert torch.all(resumed.best_model_state()["weight"] == killed_epoch)
    assert load_checkpoint(resumed.best_path)["epoch"] == killed_epoch  # repaired on disk too


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04half", b"not a checkpoint at all"])
def test_a_corrupt_best_never_blocks_resuming(tmp_path, damage):
    manager = CheckpointManager(tmp_path, keep_last=2, verbose=False)
    for epoch in (1, 2, 3):
        manager.save(state(epoch, 3 if epoch == 3 else 1), epoch=epoch, is_best=epoch in (1, 3))
    manager.best_path.write_bytes(damage)
    resumed = CheckpointManager(tmp_path, verbose=False)
    assert resumed.resume(nn.Linear(4, 2))["epoch"] == 3
    assert torch.all(resumed.best_model_state()["weight"] == 3)


def test_a_malicious_best_is_refused_and_resuming_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "ckpt"
    manager = CheckpointManager(folder, verbose=False)
    manager.save(state(1, 1), epoch=1, is_best=True)
    manager.best_path.write_bytes(pickle.dumps({"model": Payload()}))
    resumed = CheckpointManager(folder, verbose=False)
    assert resumed.resume(nn.Linear(4, 2))["epoch"] == 1
    assert torch.all(resumed.best_model_state()["weight"] == 1)
    assert not (tmp_path / "INJECTED_CODE_RAN").exists()


def test_orphan_temporary_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no process has it
    orphans = [tmp_path / f".epoch_0003.pt.{dead_pid}.tmp", tmp_path / f".best.pt.{dead_pid}.tmp"]
    live = tmp_path / f".epoch_0004.pt.{os.getppid()}.tmp"
    mine = tmp_path / "notes.tmp"
    for path in (*orphans, live, mine):
        path.write_bytes(b"half")
    CheckpointManager(tmp_path, verbose=False)
    assert not any(p.exists() for p in orphans)
    assert live.exists() and mine.read_bytes() == b"half"


@pytest.mark.parametrize("map_location", ["cuda", "cuda:3", "mps", "xpu"])
def test_a_device_this_machine_lacks_is_named_not_called_corruption(tmp_path, map_location):
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(),
                 "xpu": hasattr(torch, "xpu") and torch.xpu.is_available()}
    if available[map_location.split(":")[0]]:
        pytest.skip(f"this machine has {map_location}")
    path = save_atomically({"w": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(CheckpointDeviceError, match="is fine, but its tensors cannot go to"):
        load_checkpoint(path, map_location=map_location)
