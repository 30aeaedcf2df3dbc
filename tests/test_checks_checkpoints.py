"""The checks of notebook 08 accept the reference solutions and reject typical mistakes."""

import os

import torch
from torch import nn

from helpers.course.checks import checkpoints


def test_full_checkpoint():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    good = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 5}
    assert checkpoints.full_checkpoint.judge(good, model, optimizer, 5) == (True, "")
    assert "not the model object" in checkpoints.full_checkpoint.judge({**good, "model": model}, model, optimizer, 5)[1]
    assert "missing: ['optimizer']" in checkpoints.full_checkpoint.judge(
        {"model": model.state_dict(), "epoch": 5}, model, optimizer, 5)[1]
    assert "other values" in checkpoints.full_checkpoint.judge(
        {**good, "model": nn.Linear(2, 2).state_dict()}, model, optimizer, 5)[1]
    assert "finished epoch 5" in checkpoints.full_checkpoint.judge({**good, "epoch": 4}, model, optimizer, 5)[1]


def atomic(obj, path):
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def test_atomic_save():
    assert checkpoints.atomic_save.judge(atomic) == (True, "")
    assert "destroyed the previous file" in checkpoints.atomic_save.judge(torch.save)[1]
    assert not checkpoints.atomic_save.judge(lambda obj, path: None)[0]


def test_latest_checkpoint():
    names = ["epoch_2.pt", "epoch_10.pt", "epoch_9.pt", "best.pt"]
    assert checkpoints.latest_checkpoint.judge("epoch_10.pt", names)[0]
    assert "alphabetical" in checkpoints.latest_checkpoint.judge("epoch_9.pt", names)[1]
    assert "not an epoch checkpoint" in checkpoints.latest_checkpoint.judge("best.pt", names)[1]
    assert "not one of the names" in checkpoints.latest_checkpoint.judge("epoch_11.pt", names)[1]
