"""Round 3 (issue 30): kill-and-resume trials. ``fit`` is killed (SIGKILL) at moments spread over a run,
resumed from its checkpoint folder, and must end bit for bit where the uninterrupted run ends."""

import multiprocessing
import os
import signal
import threading
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset
from tqdm.std import tqdm

from helpers.checkpoints import CheckpointManager
from helpers.engine import fit

EPOCHS = 14
TRIALS = [(1 + trial % 10, 0.004 * trial) for trial in range(20)]
"""When each trial's run is killed: once epoch ``k`` is saved, then that many seconds later (mid-epoch, mid-save).

An epoch takes about 30 ms here, so the kills land in epochs 1 to 11, at many points of an epoch."""


def make_run():
    """A seeded model, optimizer, scheduler and shuffling loaders: the same every time."""
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(1)
    images, labels = torch.randn(320, 16, generator=data), torch.randint(0, 2, (320,), generator=data)
    dataset = TensorDataset(images, labels)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))  # Dropout: torch's RNG
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    train = DataLoader(dataset, batch_size=8, sampler=RandomSampler(dataset, generator=torch.Generator().manual_seed(2)))
    valid = DataLoader(TensorDataset(images[:64], labels[:64]), batch_size=16)
    return model, optimizer, scheduler, train, valid


def train(folder):
    torch.set_num_threads(1)
    model, optimizer, scheduler, train_loader, valid_loader = make_run()
    manager = CheckpointManager(folder, keep_last=2, verbose=False) if folder is not None else None
    history = fit(model, train_loader, valid_loader, nn.CrossEntropyLoss(), optimizer, EPOCHS, device="cpu",
                  scheduler=scheduler, checkpoints=manager, progress=False)
    return model.state_dict(), history


def train_in_a_forked_child(folder):
    """``train``, with a lock of its own for tqdm's bars: tqdm's default lock is a semaphore shared across
    ``fork``, and a child killed while holding it would block the test run forever."""
    tqdm.set_lock(threading.RLock())
    train(folder)


@pytest.fixture(scope="module")
def uninterrupted():
    return train(None)


@pytest.mark.slow
@pytest.mark.parametrize("epoch, delay", TRIALS, ids=lambda value: str(value))
def test_a_run_killed_at_any_moment_resumes_bit_for_bit(tmp_path, uninterrupted, epoch, delay):
    folder = tmp_path / "ckpt"
    child = multiprocessing.get_context("fork").Process(target=train_in_a_forked_child, args=(folder,))
    child.start()
    deadline = time.monotonic() + 30
    while not any(int(p.name[6:10]) >= epoch for p in folder.glob("epoch_????.pt")) if folder.exists() else True:
        assert time.monotonic() < deadline and child.is_alive(), f"the run ended before epoch {epoch} was saved"
        time.sleep(0.001)
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=20)
    assert child.exitcode == -signal.SIGKILL, "the run finished before the kill: no trial"
    weights, history = train(folder)  # resumes from whatever the killed run left
    expected_weights, expected_history = uninterrupted
    assert history.as_dict() == expected_history.as_dict()
    assert weights.keys() == expected_weights.keys()
    assert all(torch.equal(weights[name], expected_weights[name]) for name in weights), "not bit-exact"
