"""Checks for the exercises of notebook 08, checkpoints and Google Drive."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from helpers.course.checks import Verdict, exercise_check

REQUIRED_KEYS = ("model", "optimizer", "epoch")


@exercise_check
def full_checkpoint(answer: object, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> Verdict:
    """The answer is a dict with the model's and optimizer's state_dicts and the epoch."""
    if not isinstance(answer, dict):
        return False, f"expected a dict, got a {type(answer).__name__}."
    missing = [key for key in REQUIRED_KEYS if key not in answer]
    if missing:
        return False, f"the dict needs the keys {list(REQUIRED_KEYS)}; missing: {missing}."
    if isinstance(answer["model"], nn.Module):
        return False, "store model.state_dict(), not the model object: a state_dict is only tensors."
    if not isinstance(answer["model"], dict) or answer["model"].keys() != model.state_dict().keys():
        return False, "answer['model'] should be model.state_dict()."
    if not all(torch.equal(answer["model"][k], v) for k, v in model.state_dict().items()):
        return False, "answer['model'] has the right names but other values: save this model's state_dict()."
    if not isinstance(answer["optimizer"], dict) or "param_groups" not in answer["optimizer"]:
        return False, "answer['optimizer'] should be optimizer.state_dict() (momentum lives there)."
    if answer["epoch"] != epoch:
        return False, f"answer['epoch'] is {answer['epoch']!r}; the run has finished epoch {epoch}."
    return True, ""


class _Unpicklable:
    """Fails half-way through ``torch.save``, like a crash in the middle of writing."""

    def __reduce__(self):
        raise RuntimeError("the save was interrupted")


@exercise_check
def atomic_save(answer: object) -> Verdict:
    """The answer is ``save(obj, path)`` that never leaves ``path`` half-written."""
    if not callable(answer):
        return False, f"expected a function, got a {type(answer).__name__}."
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        answer({"weights": torch.ones(3)}, path)
        if not torch.equal(torch.load(path, weights_only=True)["weights"], torch.ones(3)):
            return False, "the file does not hold what was saved."
        try:
            answer({"weights": torch.zeros(3), "crash": _Unpicklable()}, path)
        except RuntimeError:
            pass
        try:
            survived = torch.equal(torch.load(path, weights_only=True)["weights"], torch.ones(3))
        except Exception:
            survived = False
        if not survived:
            return False, ("a save that failed half-way destroyed the previous file. Save to a temporary file "
                           "in the same folder, then os.replace(temporary, path).")
    return True, ""


@exercise_check
def latest_checkpoint(answer: object, names: list[str]) -> Verdict:
    """The answer is the name of the newest epoch checkpoint among ``names`` (compared as numbers)."""
    epochs = {name: int(name.split("_")[1].split(".")[0]) for name in names if name.startswith("epoch_")}
    expected = max(epochs, key=epochs.get)
    if answer == expected:
        return True, ""
    if answer == max(epochs):
        return False, ("that is the last name in alphabetical order: 'epoch_9' sorts after 'epoch_10'. "
                       "Compare the epoch numbers as integers.")
    if answer not in names:
        return False, f"{answer!r} is not one of the names."
    return False, "pick the file with the highest epoch number (best.pt is not an epoch checkpoint)."
