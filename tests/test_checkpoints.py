"""Checkpoints survive crashes, refuse unsafe pickles, explain damage and resume runs exactly."""

import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from helpers import checkpoints
from helpers.checkpoints import (
    TORCH_WORDING,
    ArchitectureMismatchError,
    CheckpointManager,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    check_architecture,
    configuration_id,
    full_checkpoint,
    load_checkpoint,
    restore,
    save_atomically,
)
from helpers.course import facts
from helpers.engine import fit

WRITER = textwrap.dedent("""
    import sys, time, torch
    from helpers import checkpoints

    path, mode = sys.argv[1], sys.argv[2]
    checkpoints.save_atomically({"generation": torch.tensor(0), "weights": torch.zeros(1_000_000)}, path)
    real_save = torch.save

    def save_half_then_hang(obj, file):
        file.write(b"PK\\x03\\x04" + b"half a checkpoint" * 1000)
        file.flush()
        print("writing", flush=True)
        time.sleep(600)

    if mode == "pause":
        checkpoints.torch.save = save_half_then_hang
    else:
        print("writing", flush=True)
    generation = 1
    while True:
        checkpoints.save_atomically({"generation": torch.tensor(generation),
                                     "weights": torch.full((1_000_000,), float(generation))}, path)
        generation += 1
""")


def run_writer_and_kill(tmp_path, mode, delay):
    path = tmp_path / "model.pt"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode], stdout=subprocess.PIPE,
                              cwd=facts.CHECKOUT_ROOT, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        if delay:
            subprocess.run([sys.executable, "-c", f"import time; time.sleep({delay})"])
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    return path


@pytest.mark.slow
def test_a_process_killed_in_the_middle_of_a_save_leaves_the_previous_checkpoint(tmp_path):
    path = run_writer_and_kill(tmp_path, "pause", delay=0)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the half-written temporary file should still be there"
    state = load_checkpoint(path)
    assert state["generation"].item() == 0 and torch.equal(state["weights"], torch.zeros(1_000_000))


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.1, 0.6])
def test_a_process_killed_while_saving_in_a_loop_leaves_a_whole_checkpoint(tmp_path, delay):
    state = load_checkpoint(run_writer_and_kill(tmp_path, "loop", delay))
    assert torch.equal(state["weights"], torch.full((1_000_000,), float(state["generation"])))


def test_a_plain_torch_save_cut_short_is_reported_as_truncated(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(10_000)}, path)
    path.write_bytes(path.read_bytes()[:5_000])
    with pytest.raises(CorruptCheckpointError, match="truncated or is not a PyTorch checkpoint"):
        load_checkpoint(path)
    for garbage in (b"", b"this is not a checkpoint", b"cut short by a Drive sync", b"PK\x03\x04cut"):
        path.write_bytes(garbage)
        with pytest.raises(CorruptCheckpointError, match="older checkpoint"):
            load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


class Payload:
    """What an attacker puts in a 'checkpoint': unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.marker}",)


@pytest.mark.parametrize("fmt", ["torch.save", "pickle"])
def test_a_malicious_pickle_is_refused_and_its_payload_never_runs(tmp_path, fmt):
    marker, path = tmp_path / "pwned.txt", tmp_path / "evil.pt"
    evil = {"model": {"weight": torch.zeros(2)}, "extra": Payload(marker)}
    if fmt == "torch.save":
        torch.save(evil, path)
    else:
        path.write_bytes(pickle.dumps({"epoch": 1, "extra": Payload(marker)}, protocol=2))  # torch.save's older format
    with pytest.raises(UnsafeCheckpointError, match=r"posix\.system|os\.system|nt\.system") as error:
        load_checkpoint(path)
    assert "weights_only=False" in str(error.value) and "trust" in str(error.value)
    assert not marker.exists()


def test_a_full_checkpoint_loads_with_weights_only(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = full_checkpoint(model, optimizer, scheduler, epoch=1, history={"best_epoch": 0})
    loaded = load_checkpoint(save_atomically(state, tmp_path / "full.pt"))
    assert loaded["epoch"] == 1 and loaded["course_version"] == checkpoints.__version__
    assert set(loaded["rng"]) == {"torch", "cuda", "numpy", "python"}


def test_restoring_the_random_generators_replays_the_same_numbers():
    import random

    state = full_checkpoint(nn.Linear(1, 1))
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore(state, nn.Linear(1, 1))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_a_checkpoint_of_another_architecture_says_what_differs():
    small, wide = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)), nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 2))
    with pytest.raises(ArchitectureMismatchError) as error:
        check_architecture(small, wide.state_dict())
    message = str(error.value)
    assert "0.weight: model (8, 4), checkpoint (16, 4)" in message and "Build the model" in message
    with pytest.raises(ArchitectureMismatchError, match=r"missing from the checkpoint: 1\.weight, 1\.bias"):
        restore({"model": nn.Sequential(nn.Linear(4, 8)).state_dict()}, small)
    check_architecture(small, small.state_dict())


def test_the_manager_keeps_the_last_n_and_the_best(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=2, verbose=False)
    for epoch, is_best in [(1, True), (2, True), (3, False), (4, False)]:
        manager.save({"epoch": epoch, "model": {}}, epoch=epoch, is_best=is_best)
    assert [p.name for p in manager.epoch_files()] == ["epoch_0003.pt", "epoch_0004.pt"]
    assert load_checkpoint(manager.best_path)["epoch"] == 2
    assert manager.latest()["epoch"] == 4
    with pytest.raises(ValueError, match="keep_last"):
        CheckpointManager(tmp_path, keep_last=0)


def test_resuming_skips_a_damaged_newest_checkpoint(tmp_path, capsys):
    manager = CheckpointManager(tmp_path, keep_last=3)
    for epoch in (1, 2):
        manager.save({"epoch": epoch}, epoch=epoch)
    (tmp_path / "epoch_0002.pt").write_bytes(b"cut short by a Drive sync")
    assert manager.latest()["epoch"] == 1
    assert "skipping epoch_0002.pt" in capsys.readouterr().out


def tiny_run(folder, epochs):
    """A model with Dropout, shuffled data and a scheduler: everything a resume must reproduce."""
    torch.manual_seed(0)
    inputs = torch.randn(96, 10)
    labels = (inputs[:, 0] > 0).long()
    data = torch.utils.data.TensorDataset(inputs, labels)
    train = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))
    valid = torch.utils.data.DataLoader(data, batch_size=32)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, train, valid, nn.CrossEntropyLoss(), optimizer, epochs, device="cpu", scheduler=scheduler,
                  checkpoints=CheckpointManager(folder, verbose=False), progress=False)
    return model, history


def test_a_resumed_run_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    uninterrupted, history = tiny_run(tmp_path / "straight", epochs=6)
    tiny_run(tmp_path / "resumed", epochs=3)
    resumed, resumed_history = tiny_run(tmp_path / "resumed", epochs=6)
    for expected, found in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(expected, found)
    assert resumed_history == history


def test_configuration_id_changes_with_any_setting_and_not_with_key_order():
    run = {"preset": "class", "learning_rate": 0.003, "image_size": 64, "use_real_data": False, "model": "cnn"}
    same = configuration_id(dict(reversed(list(run.items()))))
    assert configuration_id(run) == same and len(same) == 10
    changed = [configuration_id({**run, key: value}) for key, value in
               [("preset", "full"), ("learning_rate", 0.001), ("image_size", 224), ("use_real_data", True),
                ("model", "transfer")]]
    assert len(set(changed) | {same}) == 6


class NotAWeight:
    """A Python object in a checkpoint: ``weights_only`` loading refuses it."""


def pytorch_error(action) -> str:
    """Return the text of the error PyTorch raises for ``action``."""
    try:
        action()
    except Exception as error:  # whatever type this PyTorch version uses
        return str(error)
    raise AssertionError("PyTorch raised nothing")


def test_the_wording_of_a_failed_write_is_what_pytorch_says(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full, a device that is always full (Linux)")
    text = pytorch_error(lambda: torch.save({"w": torch.zeros(100_000)}, "/dev/full"))
    assert TORCH_WORDING["write failed"].search(text), text


def test_the_wording_of_a_disallowed_global_is_what_pytorch_says(tmp_path):
    torch.save({"extra": NotAWeight()}, tmp_path / "object.pt")
    text = pytorch_error(lambda: torch.load(tmp_path / "object.pt", weights_only=True))
    found = TORCH_WORDING["disallowed global"].search(text)
    assert found and found.group(1).endswith("NotAWeight"), text


def test_the_wording_of_an_unsupported_pickle_instruction_is_what_pytorch_says(tmp_path):
    (tmp_path / "text_int.pt").write_bytes(b"\x80\x02I42\n.")  # protocol 2, then protocol 0's text INT
    text = pytorch_error(lambda: torch.load(tmp_path / "text_int.pt", weights_only=True))
    found = TORCH_WORDING["unsupported opcode"].search(text)
    assert found and found.group(1) == str(ord("I")), text
    with pytest.raises(UnsafeCheckpointError, match=r"pickle instructions torch\.save never writes"):
        load_checkpoint(tmp_path / "text_int.pt")


def test_the_wording_of_a_missing_device_is_what_pytorch_says(tmp_path):
    if torch.cuda.device_count() > 63:
        pytest.skip("this machine has a cuda:63")
    save_atomically({"w": torch.zeros(2)}, tmp_path / "w.pt")
    text = pytorch_error(lambda: torch.load(tmp_path / "w.pt", map_location="cuda:63"))
    assert TORCH_WORDING["device"].search(text), text


def test_every_pytorch_wording_is_pinned_by_a_test():
    pinned = {"write failed", "disallowed global", "unsupported opcode", "device"}
    assert set(TORCH_WORDING) == pinned
