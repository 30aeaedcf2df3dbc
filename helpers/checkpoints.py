"""Checkpoints, as notebook 08 built them: save safely, load safely, resume anywhere.

* :func:`full_checkpoint` gathers everything a run needs to continue exactly:
  model, optimizer and scheduler states, the epoch, the history, the random
  number generators (torch, CUDA, NumPy, Python and the data loaders' own) and
  the course version. Everything in it is a tensor, a number, a string or a
  list or dict of them, so ``weights_only`` loading accepts it.
* :func:`save_atomically` writes to a temporary file in the same folder, flushes
  it to disk and renames it over the old file: a crash mid-save leaves the
  previous checkpoint whole.
* :func:`load_checkpoint` loads with ``weights_only=True`` and turns PyTorch's
  errors into ones that say what happened and what to do.
* :class:`CheckpointManager` keeps the last N epochs and the best one in a folder
  and resumes from the newest checkpoint that loads.
* :func:`configuration_id` names a run's folder by what defines the run, so a
  changed configuration starts fresh instead of resuming another run's weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from helpers import __version__
from helpers.safe_files import remove_stale_temporaries, sync_folder

EPOCH_FILE = re.compile(r"^epoch_(\d{4,})\.pt$")
"""The shape of an epoch file's name; :func:`epoch_number` also checks it is exactly the name the manager writes."""
BEST_FILE = "best.pt"
TEMPORARY_FILE = re.compile(r"^\.(epoch_\d{4,}|best)\.pt\.(?P<pid>\d+)\.([a-z0-9_]+\.)?tmp$")
"""What :func:`save_atomically` writes before the rename: ``.epoch_0003.pt.4242.k3j9x_2a.tmp`` (4242: the writer)."""
EARLIER_RUN_FOLDER = "earlier_run_{}"
TORCH_WORDING = {
    "write failed": re.compile(r"inline_container|PytorchStreamWriter|unexpected pos"),
    "disallowed global": re.compile(r"GLOBAL (\S+)"),
    "unsupported opcode": re.compile(r"Unsupported operand (\d+)"),
    "device": re.compile(r"map_location|device", re.IGNORECASE),
}
"""Every PyTorch message text this module reads, in one table (each pinned by a test in tests/test_checkpoints.py).

``write failed``: ``torch.save`` could not write underneath it (a full disk). ``disallowed global``: a
``weights_only`` load met a Python class (group 1 names it). ``unsupported opcode``: it met a pickle
instruction ``torch.save`` never writes. ``device``: ``map_location`` names a device this machine lacks.
PyTorch gives these failures no exception types of their own, so its wording is all there is to tell them apart.
"""


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message says why and what to do."""


class CorruptCheckpointError(CheckpointError):
    """The file is truncated or is not a PyTorch checkpoint."""


class UnsafeCheckpointError(CheckpointError):
    """The file holds Python objects that ``weights_only`` loading refuses to build."""


class CheckpointDeviceError(CheckpointError, RuntimeError):
    """The file is fine, but its tensors cannot go to the device ``map_location`` names here."""


class ArchitectureMismatchError(CheckpointError):
    """The checkpoint's weights do not fit the model (another architecture)."""


class CheckpointWriteError(CheckpointError, OSError):
    """A checkpoint cannot be written there: a read-only folder, a full disk, a folder in the file's place."""


def epoch_number(name: str) -> int | None:
    """Return the epoch of a file name :class:`CheckpointManager` writes, or ``None`` for any other name.

    Only the exact names it writes count, so a learner's ``epoch_1.pt`` is never taken for one (or pruned).

    Example:
        >>> epoch_number("epoch_0003.pt"), epoch_number("epoch_3.pt"), epoch_number("epoch_00003.pt")
        (3, None, None)
    """
    match = EPOCH_FILE.match(name)
    if match is None or name != f"epoch_{int(match.group(1)):04d}.pt":
        return None
    return int(match.group(1))


def _rng_state() -> dict[str, Any]:
    """Return the states of the torch, CUDA, NumPy and Python generators as tensors and lists."""
    numpy_name, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()
    python_version, python_internal, python_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"name": numpy_name, "keys": torch.from_numpy(np.asarray(numpy_keys, dtype=np.int64)),
                  "pos": int(numpy_pos), "has_gauss": int(numpy_has_gauss), "gauss": float(numpy_gauss)},
        "python": {"version": python_version, "internal": list(python_internal), "gauss": python_gauss},
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators :func:`_rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state((numpy["name"], numpy["keys"].numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["gauss"]))
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))


def data_generators(loaders: Iterable[object]) -> list[torch.Generator]:
    """Return the generators that shuffle ``loaders`` (their own, or their samplers').

    A resumed run must shuffle its next epochs as the uninterrupted run would, so
    the checkpoint keeps these generators' states too.
    """
    found: list[torch.Generator] = []
    for loader in loaders:
        batch_sampler = getattr(loader, "batch_sampler", None)
        for owner in (loader, getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None)):
            generator = getattr(owner, "generator", None)
            if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
                found.append(generator)
    return found


def full_checkpoint(model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: LRScheduler | None = None, epoch: int = 0, history: dict | None = None,
                    loaders: Iterable[object] = ()) -> dict[str, Any]:
    """Return everything needed to continue training exactly where it stopped.

    Example:
        >>> state = full_checkpoint(model, optimizer, scheduler, epoch=5, history=history.as_dict())  # doctest: +SKIP
        >>> sorted(state)  # doctest: +SKIP
        ['architecture', 'best_valid_loss', 'course_version', 'data_rng', 'epoch', 'history', 'model', ...]
    """
    history = history or {}
    best_epoch = history.get("best_epoch", 0)
    return {
        "architecture": type(model).__name__,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "best_valid_loss": history["valid_loss"][best_epoch - 1] if best_epoch else None,
        "history": history,
        "rng": _rng_state(),
        "data_rng": [generator.get_state() for generator in data_generators(loaders)],
        "course_version": __version__,
        "torch_version": str(torch.__version__),
    }


def save_atomically(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` so that ``path`` holds either the old file or the new one, never half.

    Example:
        >>> save_atomically(model.state_dict(), "checkpoints/model.pt")  # doctest: +SKIP
        PosixPath('checkpoints/model.pt')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        raise CheckpointWriteError(f"Cannot save {path.name}: {path} is a folder. Move that folder away "
                                   "(or save into another folder), then run again.")
    # mkstemp creates the file exclusively (O_EXCL) and never through a link a neighbour planted
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise CheckpointWriteError(_write_failure_message(path, error)) from None
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)  # atomic: readers see the old file or the new one
    except (OSError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and not TORCH_WORDING["write failed"].search(str(error)):
            raise
        raise CheckpointWriteError(_write_failure_message(path, error)) from None
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(path.parent)
    return path


def _write_failure_message(path: Path, error: BaseException) -> str:
    free = shutil.disk_usage(path.parent).free if path.parent.is_dir() else 0
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (f"Could not write {path.name} into {path.parent} ({reason}; {free / 1e6:,.0f} MB free there). "
            "Free some disk space, or give a folder you can write to, then run again: the previous "
            "checkpoint is still whole.")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu",
                    weights_only: bool = True) -> Any:
    """Load a checkpoint, refusing arbitrary Python objects unless ``weights_only=False``.

    A checkpoint is a pickle, and unpickling can run any code the file names;
    ``weights_only=True`` only rebuilds tensors, numbers, strings and containers.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        CorruptCheckpointError: the file is truncated or not a checkpoint.
        UnsafeCheckpointError: the file holds other Python objects.
        CheckpointDeviceError: ``map_location`` names a device this machine does not have.
        ValueError: ``map_location`` names no device at all.

    Example:
        >>> load_checkpoint("checkpoints/best.pt")["epoch"]  # doctest: +SKIP
        7
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check the folder, or list it with "
                                f"CheckpointManager(folder).epoch_files().")
    check_map_location(map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as error:
        found = TORCH_WORDING["disallowed global"].search(str(error))
        unsupported = TORCH_WORDING["unsupported opcode"].search(str(error)) and _starts_like_a_pickle(path)
        if (found is None and not unsupported) or not _looks_like_a_checkpoint(path):
            raise CorruptCheckpointError(_corrupt_message(path, error)) from None
        held = f"Python objects ({found.group(1)})" if found else "pickle instructions torch.save never writes"
        raise UnsafeCheckpointError(
            f"Refused to load {path.name}: not a plain checkpoint. It holds {held}, and "
            "unpickling them could run any code the file's author chose. Save checkpoints as "
            "state_dicts (helpers.checkpoints.full_checkpoint does). Only if you trust where the file "
            "came from, load it with weights_only=False, or allow its types with "
            "torch.serialization.add_safe_globals([...])."
        ) from None
    except Exception as error:  # torch.load reports damaged files with many exception types
        if isinstance(error, RuntimeError) and TORCH_WORDING["device"].search(str(error)):
            raise CheckpointDeviceError(
                f"{path.name} is fine, but its tensors cannot go to map_location={map_location!r} on this machine "
                f"(PyTorch says: {str(error).splitlines()[0]}). Load with map_location='cpu' (the default), then "
                "move the model with model.to(device).") from None
        raise CorruptCheckpointError(_corrupt_message(path, error)) from error


def check_map_location(map_location: object) -> None:
    """Raise ``ValueError`` when ``map_location`` names no device, before a good file is blamed.

    Example:
        >>> check_map_location("gpu")
        Traceback (most recent call last):
        ValueError: map_location='gpu' is not a device: use "cpu", "cuda", "cuda:0" or "mps", a torch.device, or None.
    """
    if map_location is None or callable(map_location) or isinstance(map_location, (torch.device, dict)):
        return
    try:
        torch.device(map_location)  # type: ignore[call-overload]  # any object: the error is the check
    except (RuntimeError, TypeError):
        raise ValueError(f"map_location={map_location!r} is not a device: use \"cpu\", \"cuda\", \"cuda:0\" or "
                         "\"mps\", a torch.device, or None.") from None


def _starts_like_a_pickle(path: Path) -> bool:
    """Whether ``path`` starts with a pickle header, protocol 2 to 5."""
    with open(path, "rb") as file:
        start = file.read(2)
    return len(start) == 2 and start[0] == 0x80 and 2 <= start[1] <= 5


def _looks_like_a_checkpoint(path: Path) -> bool:
    """Whether ``path`` starts like ``torch.save`` output: a zip archive, or a pickle (older format)."""
    with open(path, "rb") as file:
        return file.read(2) == b"PK" or _starts_like_a_pickle(path)


def _corrupt_message(path: Path, error: Exception) -> str:
    first_sentence = str(error).split(". ")[0].splitlines()[0] if str(error) else ""
    reason = f"{type(error).__name__}: {first_sentence}" if first_sentence else type(error).__name__
    return (f"{path.name} is truncated or is not a PyTorch checkpoint ({path.stat().st_size} bytes; "
            f"PyTorch says: {reason}). A save that was cut short (a crash, a full disk, a Drive sync "
            "still running) leaves such a file. Load an older checkpoint from the same folder instead; "
            "CheckpointManager.resume does that for you.")


def check_architecture(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "the checkpoint") -> None:
    """Raise :class:`ArchitectureMismatchError`, naming the differences, if ``state_dict`` does not fit ``model``.

    Example:
        >>> check_architecture(SmallCNN(), torch.load("resnet.pt")["model"])  # doctest: +SKIP
        ArchitectureMismatchError: ... missing from the checkpoint: conv1.weight ...
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    reshaped = [f"{key}: model {tuple(expected[key].shape)}, checkpoint {tuple(state_dict[key].shape)}"
                for key in expected if key in state_dict and expected[key].shape != state_dict[key].shape]
    if not (missing or unexpected or reshaped):
        return

    def listed(label: str, items: list[str]) -> str:
        more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
        return f"\n  {label}: {', '.join(items[:5])}{more}" if items else ""

    raise ArchitectureMismatchError(
        f"{source} was saved from another architecture than this {type(model).__name__}:"
        + listed("missing from the checkpoint", missing) + listed("not in the model", unexpected)
        + listed("different shapes", reshaped)
        + "\nBuild the model the checkpoint was saved from (same class and sizes) before loading it."
    )


def restore(checkpoint: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
            scheduler: LRScheduler | None = None, loaders: Iterable[object] = ()) -> None:
    """Put the states of a :func:`full_checkpoint` back into the objects of a new run.

    Raises :class:`CheckpointError` for a plain ``state_dict`` (no run to continue)
    and for an optimizer state of another kind (SGD's into Adam).
    """
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise CheckpointError(
            "This file is not a full checkpoint (no 'model' entry): it looks like a plain state_dict, which holds "
            "weights but no optimizer, epoch or history to continue from. Load it with "
            "model.load_state_dict(load_checkpoint(path)), or resume from a file full_checkpoint wrote.")
    check_architecture(model, checkpoint["model"], f"The checkpoint of epoch {checkpoint.get('epoch')}")
    if optimizer is not None and checkpoint.get("optimizer") is not None:
        check_optimizer(optimizer, checkpoint)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None and checkpoint.get("optimizer") is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and checkpoint.get("scheduler") is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    if "rng" in checkpoint:
        _set_rng_state(checkpoint["rng"])
    for generator, state in zip(data_generators(loaders), checkpoint.get("data_rng", [])):
        generator.set_state(state)


def check_optimizer(optimizer: torch.optim.Optimizer, checkpoint: dict[str, Any]) -> None:
    """Raise :class:`CheckpointError` when the checkpoint's optimizer state is of another kind than ``optimizer``.

    Newer checkpoints name the optimizer's class; for older ones, a missing
    hyperparameter (Adam's ``betas`` in an SGD state) gives it away.

    Example:
        >>> sgd_checkpoint = {"optimizer_class": "SGD", "optimizer": {"param_groups": [], "state": {}}}
        >>> check_optimizer(torch.optim.Adam(nn.Linear(1, 1).parameters()), sgd_checkpoint)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        helpers.checkpoints.CheckpointError: The checkpoint was trained with SGD, but this run's optimizer is Adam: ...
    """
    wanted, saved = type(optimizer).__name__, checkpoint.get("optimizer_class")
    state = checkpoint["optimizer"]
    groups = state.get("param_groups") if isinstance(state, dict) else None
    missing: list[str] = []
    if saved is None and isinstance(groups, list) and groups and isinstance(groups[0], dict):
        current = optimizer.param_groups[0]
        missing = [key for key, value in current.items() if key != "params" and key not in groups[0]
                   and isinstance(value, (int, float, tuple)) and not isinstance(value, bool)]
    if (saved is not None and saved != wanted) or missing or not isinstance(groups, list):
        found = saved or (f"an optimizer without {', '.join(missing)}" if missing else "no optimizer state")
        raise CheckpointError(
            f"The checkpoint was trained with {found}, but this run's optimizer is {wanted}: its state cannot "
            f"continue another optimizer's. Build the same optimizer as the run that saved it, or start "
            "fresh in a new checkpoint folder (or load only the weights: model.load_state_dict(checkpoint['model'])).")


class CheckpointManager:
    """A folder of checkpoints: ``epoch_0001.pt`` ... (the last ``keep_last``) and ``best.pt``.

    The pair stays consistent whatever moment a run is killed at: ``best.pt`` is
    checked against the history of the checkpoint a run resumes from and, if a
    kill left it behind, rewritten from that epoch's file. Temporary files of
    killed saves are removed, and the checkpoints of another, longer run are
    moved aside into ``earlier_run_1/`` (with a message) rather than mixed in.

    Example:
        >>> manager = CheckpointManager("checkpoints/06_small_cnn", keep_last=2)  # doctest: +SKIP
        >>> manager.save(full_checkpoint(model, optimizer, epoch=3), epoch=3, is_best=True)  # doctest: +SKIP
        >>> [p.name for p in manager.epoch_files()]  # doctest: +SKIP
        ['epoch_0002.pt', 'epoch_0003.pt']
    """

    def __init__(self, folder: str | os.PathLike, keep_last: int = 2, verbose: bool = True) -> None:
        if not isinstance(keep_last, int) or keep_last < 1:
            raise ValueError(f"keep_last must be a whole number, at least 1, got {keep_last!r}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"{self.folder} is a file: CheckpointManager needs a folder for its "
                                     "checkpoints. Pass another path.")
        self.keep_last = keep_last
        self.verbose = verbose
        self.resumed_best_epoch: int | None = None
        """The best epoch in the history of the checkpoint :meth:`resume` restored."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointWriteError(f"Cannot make the checkpoint folder {self.folder} ({error.strerror or error}): "
                                       "pass a folder you can write to.") from None
        self._check_writable()
        for removed in remove_stale_temporaries(self.folder, TEMPORARY_FILE):
            self._say(f"removed {removed.name}, left by a save that was killed")

    def _check_writable(self) -> None:
        """Raise :class:`CheckpointWriteError` now, before an epoch of training, if saves will fail."""
        in_the_way = [entry for entry in self.folder.iterdir() if entry.is_dir() and not entry.is_symlink()
                      and (entry.name == BEST_FILE or epoch_number(entry.name) is not None)]
        if in_the_way:
            raise CheckpointWriteError(f"{in_the_way[0]} is a folder where the manager saves a checkpoint file: "
                                       "move it away, or pass another checkpoint folder.")
        try:
            descriptor, name = tempfile.mkstemp(prefix=f".{BEST_FILE}.{os.getpid()}.", suffix=".tmp",
                                                dir=self.folder)
        except OSError as error:
            raise CheckpointWriteError(f"Cannot write into the checkpoint folder {self.folder} "
                                       f"({error.strerror or error}): it is read-only or not yours. Pass a folder "
                                       "you can write to, or make this one writable.") from None
        os.close(descriptor)
        os.unlink(name)

    @property
    def best_path(self) -> Path:
        return self.folder / BEST_FILE

    def _say(self, text: str) -> None:
        if self.verbose:
            print(text)

    def epoch_files(self) -> list[Path]:
        """Return the epoch checkpoints in the folder, oldest first: exactly the names it writes, no links."""
        files = [p for p in self.folder.iterdir() if epoch_number(p.name) is not None and p.is_file()
                 and not p.is_symlink()]
        return sorted(files, key=lambda p: epoch_number(p.name) or 0)  # every name here has a number

    def linked_epoch_files(self) -> list[Path]:
        """Return epoch-named links in the folder: the manager never writes one, so it never resumes from one."""
        return [p for p in self.folder.iterdir() if epoch_number(p.name) is not None and p.is_symlink()]

    def epoch_path(self, epoch: int) -> Path:
        return self.folder / f"epoch_{epoch:04d}.pt"

    def save(self, state: dict[str, Any], epoch: int, is_best: bool = False) -> Path:
        """Save ``state`` as this epoch's checkpoint (and as ``best.pt``), then drop old epochs.

        The epoch file is written first: a kill before ``best.pt`` is rewritten
        leaves a history that :meth:`best_model_state` repairs ``best.pt`` from.
        """
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
            raise ValueError(f"epoch must be a whole number, 1 or more, got {epoch!r}")
        self._move_aside_later_epochs(epoch)
        path = save_atomically(state, self.epoch_path(epoch))
        if is_best:
            save_atomically(state, self.best_path)
        kept = [p for p in self.epoch_files() if p != path][-(self.keep_last - 1):] if self.keep_last > 1 else []
        for old in self.epoch_files():
            if old != path and old not in kept:
                old.unlink(missing_ok=True)
        return path

    def _move_aside_later_epochs(self, epoch: int) -> None:
        """Move checkpoints numbered ``epoch`` or later (and their ``best.pt``) into ``earlier_run_N/``.

        Saving epoch 1 into a folder that holds epochs 4 and 5 means another run
        is starting over: keeping those files would mix two runs. The file of the
        epoch being written is overwritten as usual when it is the one a run resumed
        past (a damaged newest file).
        """
        later = [p for p in self.epoch_files() if (epoch_number(p.name) or 0) > epoch]
        if not later:
            return
        best_epoch = self._epoch_of(self.best_path)
        moved = later + ([self.best_path] if best_epoch is None or best_epoch > epoch else [])
        number = 1
        while (self.folder / EARLIER_RUN_FOLDER.format(number)).exists():
            number += 1
        aside = self.folder / EARLIER_RUN_FOLDER.format(number)
        aside.mkdir()
        for path in moved:
            if path.exists():
                shutil.move(str(path), str(aside / path.name))
        self._say(f"{self.folder.name}/ held checkpoints of a longer run ({', '.join(p.name for p in moved)}); "
                  f"this run saves epoch {epoch}, so they were moved to {aside.name}/ rather than mixed in.")

    def _epoch_of(self, path: Path) -> int | None:
        """Return the ``epoch`` stored in the checkpoint at ``path``; ``None`` if it is missing or unreadable."""
        if not path.is_file():
            return None
        try:
            state = load_checkpoint(path)
        except CheckpointError:
            return None
        return state.get("epoch") if isinstance(state, dict) else None

    def latest(self) -> dict[str, Any] | None:
        """Return the newest checkpoint that loads, skipping damaged ones and links; ``None`` if there is none."""
        for link in self.linked_epoch_files():
            self._say(f"skipping {link.name}: it is a link (to {os.readlink(link)}), perhaps to another run's "
                      "checkpoint; the manager only resumes from files it wrote itself")
        for path in reversed(self.epoch_files()):
            try:
                return load_checkpoint(path)
            except CheckpointError as error:
                self._say(f"skipping {path.name}: {error}")
        return None

    def best_model_state(self) -> dict[str, torch.Tensor] | None:
        """Return the model weights of the best epoch, or ``None`` if there is none yet.

        After :meth:`resume`, the best epoch is the one the resumed history names:
        a ``best.pt`` of another epoch (a kill between the two saves) or a damaged
        one is replaced by that epoch's own file when the folder still holds it.
        """
        expected = self.resumed_best_epoch
        if self.best_path.is_file() and not self.best_path.is_symlink():
            try:
                best = load_checkpoint(self.best_path)
                usable = isinstance(best, dict) and "model" in best
                if usable and (expected is None or best.get("epoch") in (None, expected)):
                    return best["model"]
            except CheckpointError as error:
                self._say(f"best.pt cannot be used: {error}")
        if expected and self.epoch_path(expected).is_file():
            try:
                state = load_checkpoint(self.epoch_path(expected))
            except CheckpointError as error:
                self._say(f"{self.epoch_path(expected).name} cannot be used either: {error}")
                return None
            save_atomically(state, self.best_path)
            self._say(f"best.pt rewritten from {self.epoch_path(expected).name}, the best epoch of the resumed run")
            return state["model"]
        if expected:
            self._say(f"the weights of the best epoch ({expected}) are no longer in {self.folder.name}/: "
                      "the best weights will be those of the best epoch from now on")
        return None

    def save_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                   scheduler: LRScheduler | None, epoch: int, history: dict[str, object],
                   loaders: Iterable[object] = (), is_best: bool = False) -> Path:
        """Save everything a run needs to go on after ``epoch`` (see :func:`full_checkpoint`); return the file.

        Example:
            >>> manager.save_epoch(model, optimizer, None, 3, history.as_dict(), is_best=True)  # doctest: +SKIP
            PosixPath('checkpoints/epoch_0003.pt')
        """
        state = full_checkpoint(model, optimizer, scheduler, epoch=epoch, history=history, loaders=loaders)
        return self.save(state, epoch=epoch, is_best=is_best)

    def resume_training(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                        scheduler: LRScheduler | None = None, loaders: Iterable[object] = ()
                        ) -> tuple[dict[str, Any] | None, dict[str, torch.Tensor] | None]:
        """Restore the newest checkpoint (see :meth:`resume`); return it and the best epoch's weights.

        Both are ``None`` when the folder holds no checkpoint: the run starts fresh.
        """
        checkpoint = self.resume(model, optimizer, scheduler, loaders)
        return (checkpoint, self.best_model_state()) if checkpoint is not None else (None, None)

    def resume(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
               scheduler: LRScheduler | None = None, loaders: Iterable[object] = ()) -> dict[str, Any] | None:
        """Restore the newest checkpoint into the given objects and return it (``None``: start fresh)."""
        checkpoint = self.latest()
        if checkpoint is None:
            return None
        restore(checkpoint, model, optimizer, scheduler, loaders)
        history = checkpoint.get("history")
        self.resumed_best_epoch = (history.get("best_epoch") if isinstance(history, dict) else None) or None
        self._say(f"resumed from epoch {checkpoint['epoch']} in {self.folder.name}/")
        return checkpoint


def configuration_id(configuration: Mapping[str, object]) -> str:
    """Return a short hash of what defines a run (preset, learning rate, image size, model kind...).

    Name a run's checkpoint folder with it: a run with another configuration then
    gets another folder and starts fresh, instead of resuming weights trained
    for something else. The order of the keys does not matter.

    Example:
        >>> configuration_id({"preset": "class", "learning_rate": 0.003})
        '97c72ce1d7'
        >>> configuration_id({"learning_rate": 0.003, "preset": "class"})
        '97c72ce1d7'
    """
    text = json.dumps(dict(configuration), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]

