"""Checks for the exercises of notebook 08, checkpoints and Google Drive."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from helpers.course.checks import Verdict, call_learner_function, exercise_check, kind_of

KEY_NAMES = {  # the cheat sheet's keys, and the names PyTorch's own tutorials use
    "model": ("model", "model_state_dict", "state_dict"),
    "optimizer": ("optimizer", "optimizer_state_dict"),
    "epoch": ("epoch",),
}


def _entry(checkpoint: dict, part: str) -> tuple[bool, object]:
    """Return whether ``checkpoint`` has ``part`` under one of its usual names, and its value."""
    for key in KEY_NAMES[part]:
        if key in checkpoint:
            return True, checkpoint[key]
    return False, None


def same_state(saved: object, current: object) -> bool:
    """Whether two state_dicts (nested dicts and lists of tensors and numbers) hold the same values.

    Example:
        >>> same_state({"step": torch.tensor(3.0)}, {"step": torch.tensor(3.0)}), same_state({}, {"step": 1})
        (True, False)
    """
    if isinstance(saved, torch.Tensor) or isinstance(current, torch.Tensor):
        return (isinstance(saved, torch.Tensor) and isinstance(current, torch.Tensor)
                and saved.shape == current.shape and torch.equal(saved.cpu(), current.cpu()))
    if isinstance(saved, dict) and isinstance(current, dict):
        return saved.keys() == current.keys() and all(same_state(saved[key], current[key]) for key in saved)
    if isinstance(saved, (list, tuple)) and isinstance(current, (list, tuple)):
        return len(saved) == len(current) and all(map(same_state, saved, current))
    return saved == current


@exercise_check
def resumable_checkpoint(answer: object, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> Verdict:
    """The answer is a dict with the model's and optimizer's state_dicts and the epoch."""
    if not isinstance(answer, dict):
        return False, (f"expected a dict such as {{'model': ..., 'optimizer': ..., 'epoch': ...}}, got "
                       f"{kind_of(answer)}.")
    entries = {part: _entry(answer, part) for part in KEY_NAMES}
    missing = [part for part, (present, _) in entries.items() if not present]
    if missing:
        return False, f"the dict needs the keys ['model', 'optimizer', 'epoch']; missing: {missing}."
    saved_model, saved_optimizer, saved_epoch = (entries[part][1] for part in KEY_NAMES)
    if isinstance(saved_model, nn.Module):
        return False, "store model.state_dict(), not the model object: a state_dict is only tensors."
    if not isinstance(saved_model, dict) or saved_model.keys() != model.state_dict().keys():
        return False, "the model entry should be model.state_dict()."
    if not all(torch.equal(saved_model[k], v) for k, v in model.state_dict().items()):
        return False, "the model entry has the right names but other values: save this model's state_dict()."
    if isinstance(saved_optimizer, torch.optim.Optimizer):
        return False, "store optimizer.state_dict(), not the optimizer object."
    if not isinstance(saved_optimizer, dict) or "param_groups" not in saved_optimizer:
        return False, "the optimizer entry should be optimizer.state_dict() (the momentum lives there)."
    current_optimizer = optimizer.state_dict()
    if not same_state(saved_optimizer.get("state"), current_optimizer["state"]):
        if not saved_optimizer.get("state"):
            return False, ("the optimizer entry holds no running averages, as a new optimizer's state_dict does: "
                           "save the state_dict of the optimizer that trained, so training resumes exactly.")
        return False, "the optimizer entry holds another optimizer's state: save this run's optimizer.state_dict()."
    if not same_state(saved_optimizer["param_groups"], current_optimizer["param_groups"]):
        return False, ("the optimizer entry has other settings (learning rate, betas...) than the optimizer that "
                       "trained: save its own optimizer.state_dict().")
    if saved_epoch != epoch:
        return False, f"the epoch entry is {saved_epoch!r}; the run has finished epoch {epoch} (a number)."
    return True, ""


class _Unpicklable:
    """Fails half-way through ``torch.save``, like a crash in the middle of writing."""

    def __reduce__(self):
        raise RuntimeError("the save was interrupted")


def _saved_to(args: tuple[object, ...], kwargs: Mapping[str, object]) -> Path | None:
    """Return the file a recorded ``torch.save(obj, f)`` call (its ``args`` and ``kwargs``) wrote to.

    ``f`` may be a path or an open file.
    """
    target = args[1] if len(args) > 1 else kwargs.get("f")
    if not isinstance(target, (str, os.PathLike)):
        target = getattr(target, "name", None)  # an open file knows its path
    return Path(target) if isinstance(target, (str, os.PathLike)) else None


@exercise_check
def atomic_save(answer: object) -> Verdict:
    """The answer is ``save(obj, path)`` that never leaves ``path`` half-written.

    It must write a temporary file in ``path``'s own folder and then ``os.replace`` it: a
    temporary file elsewhere (``/tmp``) is copied, not renamed, when that is another file system.
    """
    if not callable(answer):
        return False, f"expected a function such as `def save(obj, path): ...`, got {kind_of(answer)}."
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoints" / "model.pt"
        path.parent.mkdir()
        real_save, real_replace, real_rename = torch.save, os.replace, os.rename
        with mock.patch.object(torch, "save", side_effect=real_save) as spy, \
                mock.patch.object(os, "replace", side_effect=real_replace) as replaced, \
                mock.patch.object(os, "rename", side_effect=real_rename) as renamed:
            _, failure = call_learner_function(answer, {"weights": torch.ones(3)}, path)
        if failure:
            return False, f"{failure}. It is called as save(obj, path) with a pathlib.Path."
        if not path.exists():
            return False, "nothing was written at path: the last step puts the finished file there with os.replace."
        if not torch.equal(torch.load(path, weights_only=True)["weights"], torch.ones(3)):
            return False, "the file does not hold what was saved."
        saved_to = [_saved_to(call.args, call.kwargs) for call in spy.call_args_list]
        targets = [target for target in saved_to if target is not None]
        if any(target.resolve() == path.resolve() for target in targets):
            return False, ("torch.save writes straight into path: a crash half-way leaves a broken file. Save to a "
                           "temporary file in the same folder, then os.replace(temporary, path).")
        if any(target.resolve().parent != path.parent.resolve() for target in targets):
            return False, ("the temporary file is in another folder: moving it from /tmp or elsewhere is a copy, "
                           "not a rename, when that folder is on another disk, and a copy can be cut half-way. "
                           "Put the temporary file beside path (path.with_suffix('.tmp')) and os.replace it.")
        renamed_to = [Path(call.args[1]).resolve() for call in replaced.call_args_list + renamed.call_args_list
                      if len(call.args) > 1]
        if path.resolve() not in renamed_to:
            return False, ("the finished file did not arrive at path by a rename: copying it there (shutil.copyfile, "
                           "or writing it again) can be cut half-way too. End with os.replace(temporary, path), "
                           "which is atomic.")
        with mock.patch.object(torch, "save", side_effect=real_save):
            call_learner_function(answer, {"weights": torch.zeros(3), "crash": _Unpicklable()}, path)
        try:
            survived = torch.equal(torch.load(path, weights_only=True)["weights"], torch.ones(3))
        except Exception:  # a half-written file fails to load in many ways
            survived = False
        if not survived:
            return False, ("a save that failed half-way destroyed the previous file. Save to a temporary file "
                           "in the same folder, then os.replace(temporary, path).")
        leftovers = sorted(p.name for p in path.parent.iterdir() if p != path)
        if leftovers:
            return False, (f"the failed save left {leftovers} behind: delete the temporary file when saving fails "
                           "(try/finally).")
    return True, ""


@exercise_check
def latest_checkpoint(answer: object, names: list[str]) -> Verdict:
    """The answer is the name of the newest epoch checkpoint among ``names`` (compared as numbers)."""
    epochs = {name: int(name.split("_")[1].split(".")[0]) for name in names if name.startswith("epoch_")}
    expected = max(epochs, key=epochs.__getitem__)
    if isinstance(answer, os.PathLike):
        answer = Path(answer).name
    if not isinstance(answer, str):
        return False, f"expected a file name from files, such as 'epoch_2.pt', got {kind_of(answer)}."
    if answer == expected:
        return True, ""
    if answer == max(epochs):
        return False, ("that is the last name in alphabetical order: 'epoch_9' sorts after 'epoch_10'. "
                       "Compare the epoch numbers as integers.")
    if answer == "best.pt":
        return False, ("best.pt holds the best weights, not an epoch checkpoint with the latest state: a run resumes "
                       "from the newest epoch file.")
    if answer not in names:
        return False, f"{answer!r} is not one of the names in files."
    return False, "pick the epoch file with the highest epoch number."
