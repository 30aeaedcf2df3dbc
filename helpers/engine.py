"""The training loop, as notebook 06 built it: one epoch of training, one of evaluation, and ``fit``.

* :func:`train_one_epoch` runs the five steps (zero_grad, forward, loss,
  backward, optimizer step) on every batch of one epoch and returns the
  epoch's loss and accuracy. A "step" is one optimizer step, one batch.
* :func:`evaluate` runs the model in ``eval`` mode under ``torch.no_grad()``.
* :func:`fit` repeats both for some epochs: it keeps a :class:`History`, shows
  progress bars, moves model and data to the device, keeps the best model by
  validation loss, steps an optional learning-rate scheduler, stops early when
  asked, and saves and resumes checkpoints through :mod:`helpers.checkpoints`.

On a CUDA GPU ``fit`` trains with **mixed precision** by default
(``precision="auto"``, see :func:`training_precision`): matrix products and
convolutions run in bfloat16 where the GPU supports it natively, else in
float16 with a ``GradScaler`` that keeps small gradients from rounding to zero.
BatchNorm layers whose parameters are all frozen stay in ``eval`` mode while
the rest trains, so a frozen backbone keeps its statistics.

Metrics are weighted by batch size (the sum of ``loss * batch_size`` over the
samples), so a small last batch counts for what it is. They are summed on the
device and read once per epoch: ``loss.item()`` on every batch would make the
CPU wait for the GPU at every step.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from typing import TypeVar

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from tqdm.std import tqdm

from helpers.checkpoints import CheckpointError, CheckpointManager
from helpers.devices import autocast_dtype, choose_device
from helpers.progress import progress_bar

Item = TypeVar("Item")
__all__ = ["History", "Precision", "evaluate", "fit", "keep_frozen_batchnorm_in_eval", "progress_bar",
           "train_one_epoch", "train_step", "training_precision"]
LONG_RUN_SECONDS = 60.0
"""``fit`` says how long the remaining epochs will take when that is at least this long."""
PER_BATCH_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)
"""Schedulers whose schedule is counted in batches: they step after every optimizer step."""
PRECISIONS = ("auto", "mixed", "float32", "bfloat16", "float16")
"""What ``fit(precision=...)`` takes: see :func:`training_precision`."""


@dataclass(frozen=True)
class Precision:
    """How the forward passes run: in float32 (``dtype=None``) or under ``torch.autocast`` to ``dtype``.

    A float16 run needs a ``GradScaler`` (``scaler``) so that small gradients do not round to zero.

    Example:
        >>> Precision().dtype is None
        True
    """

    dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None


def counted(iterable: Iterable[Item], bar: tqdm) -> Iterator[Item]:
    """Yield the items of ``iterable``, advancing ``bar`` by one after each."""
    for item in iterable:
        yield item
        bar.update()


def keep_frozen_batchnorm_in_eval(model: nn.Module) -> list[nn.Module]:
    """Put every BatchNorm layer whose parameters are all frozen in ``eval`` mode; return those layers.

    In ``train`` mode BatchNorm normalises with each batch's statistics and
    updates its running ones, even when its weights have ``requires_grad=False``.
    A frozen backbone (notebook 05) must keep the statistics it was trained with.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        >>> model[1].requires_grad_(False).train()  # doctest: +ELLIPSIS
        BatchNorm2d(...)
        >>> [layer.training for layer in keep_frozen_batchnorm_in_eval(model)]
        [False]
    """
    frozen: list[nn.Module] = []
    for module in model.modules():
        parameters = list(module.parameters(recurse=False))
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and parameters and not any(
                p.requires_grad for p in parameters):
            module.eval()
            frozen.append(module)
    return frozen


def precision_context(device: torch.device, precision: Precision):
    """Return ``torch.autocast`` to ``precision.dtype`` on ``device``, or a context that changes nothing."""
    return torch.autocast(device.type, dtype=precision.dtype) if precision.dtype is not None else nullcontext()


def check_some_samples(samples: int, what: str) -> None:
    """Raise ``ValueError`` when a loader gave no samples: a mean over none would divide by zero.

    Example:
        >>> check_some_samples(32, "training")
    """
    if samples == 0:
        raise ValueError(f"The {what} loader gave no batches, so there is nothing to average: its data set or "
                         "its indices are empty (a split with too few images?), or drop_last=True dropped the only "
                         "batch. Check len(loader.dataset) and the split sizes.")


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device, *, scheduler: LRScheduler | None = None,
                    precision: Precision = Precision()) -> tuple[float, float]:
    """Train ``model`` for one epoch over ``loader`` (one optimizer step per batch); return its (loss, accuracy).

    ``scheduler``, when given, steps after every optimizer step (OneCycleLR does).
    ``precision`` runs the forward passes under ``torch.autocast``
    (see :func:`training_precision`); the default is plain float32.

    Example:
        >>> train_loss, train_accuracy = train_one_epoch(model, loaders.train, loss_fn, optimizer,
        ...                                              device)  # doctest: +SKIP
    """
    model.train()  # Dropout drops, BatchNorm uses and updates batch statistics
    keep_frozen_batchnorm_in_eval(model)  # ... except in frozen layers
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    samples = 0
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        optimizer.zero_grad()  # 1. forget the previous batch's gradients
        with precision_context(device, precision):
            logits = model(images)  # 2. forward pass
            loss = loss_fn(logits, labels)  # 3. the loss: the mean over this batch
        if precision.scaler is None:
            loss.backward()  # 4. backward pass: gradients for every parameter
            optimizer.step()  # 5. update the parameters: one step
        else:  # float16: scale the loss up so small gradients survive, and unscale before the step
            precision.scaler.scale(loss).backward()
            precision.scaler.step(optimizer)
            precision.scaler.update()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach().float() * labels.size(0)
        correct += (logits.argmax(dim=1) == labels).sum()
        samples += labels.size(0)
    check_some_samples(samples, "training")
    return loss_sum.item() / samples, correct.item() / samples


def train_step(model: nn.Module, loader: Iterable, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
               device: torch.device, scheduler: LRScheduler | None = None, low_precision: torch.dtype | None = None,
               scaler: torch.amp.GradScaler | None = None) -> tuple[float, float]:
    """Deprecated: the old name of :func:`train_one_epoch`, which it calls; it goes in the next release.

    It ran a whole epoch, while "step" means one optimizer step.
    """
    warnings.warn("helpers.engine.train_step is now train_one_epoch (it trains a whole epoch; a step is one "
                  "optimizer step). Use train_one_epoch(model, loader, loss_fn, optimizer, device); the old name "
                  "goes in the next release.", DeprecationWarning, stacklevel=2)
    return train_one_epoch(model, loader, loss_fn, optimizer, device, scheduler=scheduler,
                           precision=Precision(low_precision, scaler))


def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
             device: torch.device, *, precision: Precision = Precision()) -> tuple[float, float]:
    """Return ``model``'s (loss, accuracy) over ``loader``, without training it.

    Example:
        >>> valid_loss, valid_accuracy = evaluate(model, loaders.valid, loss_fn, device)  # doctest: +SKIP
    """
    model.eval()  # Dropout keeps everything, BatchNorm uses its running statistics
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    samples = 0
    with torch.no_grad(), precision_context(device, precision):  # no tape: less memory, faster
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            logits = model(images)
            loss_sum += loss_fn(logits, labels).float() * labels.size(0)
            correct += (logits.argmax(dim=1) == labels).sum()
            samples += labels.size(0)
    check_some_samples(samples, "evaluation")
    return loss_sum.item() / samples, correct.item() / samples


def mixed_precision_dtype(device: torch.device, mixed_precision: bool | None) -> torch.dtype | None:
    """Return the autocast dtype for mixed precision on ``device``, or ``None`` for plain float32.

    ``None`` means "on a CUDA GPU only": there tensor cores make it 2 to 3 times
    as fast; on most CPUs bfloat16 is no faster.

    Example:
        >>> mixed_precision_dtype(torch.device("cpu"), None) is None
        True
        >>> mixed_precision_dtype(torch.device("cpu"), True)
        torch.bfloat16
    """
    wanted = device.type == "cuda" if mixed_precision is None else mixed_precision
    return autocast_dtype(device) if wanted else None


def training_precision(device: torch.device, precision: str = "auto") -> Precision:
    """Return the :class:`Precision` ``fit`` trains with on ``device``.

    ``"auto"``: mixed precision on a CUDA GPU, float32 elsewhere. ``"mixed"``: the
    device's own low precision (bfloat16 where it is native, else float16).
    ``"float32"``, ``"bfloat16"`` and ``"float16"`` name the dtype. float16 comes
    with a ``GradScaler``.

    Example:
        >>> training_precision(torch.device("cpu")).dtype is None
        True
        >>> training_precision(torch.device("cpu"), "bfloat16").dtype
        torch.bfloat16
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}: "
                         "\"auto\" uses mixed precision on a CUDA GPU and float32 elsewhere.")
    named = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
    dtype = (mixed_precision_dtype(device, None if precision == "auto" else True) if precision in ("auto", "mixed")
             else named[precision])
    return Precision(dtype, torch.amp.GradScaler(device.type) if dtype == torch.float16 else None)


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch, and which epoch was best.

    Example:
        >>> history = History()
        >>> history.add(train_loss=0.9, train_accuracy=0.5, valid_loss=0.8, valid_accuracy=0.6, lr=0.01)
        True
        >>> history.best_epoch, len(history)
        (1, 1)
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    """The learning rate each epoch started with."""
    best_epoch: int = 0
    """The epoch (counting from 1) with the lowest validation loss; 0 before the first."""

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def best_valid_loss(self) -> float:
        return self.valid_loss[self.best_epoch - 1] if self.best_epoch else math.inf

    def add(self, train_loss: float, train_accuracy: float, valid_loss: float, valid_accuracy: float,
            lr: float) -> bool:
        """Append one epoch; return whether its validation loss is the best so far."""
        improved = valid_loss < self.best_valid_loss
        self.train_loss.append(train_loss)
        self.train_accuracy.append(train_accuracy)
        self.valid_loss.append(valid_loss)
        self.valid_accuracy.append(valid_accuracy)
        self.lr.append(lr)
        if improved:
            self.best_epoch = len(self)
        return improved

    def epochs_since_best(self) -> int:
        return len(self) - self.best_epoch

    def as_dict(self) -> dict[str, object]:
        """Plain lists and numbers, so a checkpoint can store it and ``weights_only`` load it back."""
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, object]) -> History:
        """Rebuild the history a checkpoint stored; a history of another shape gets a clear error.

        Example:
            >>> History.from_checkpoint({"history": {"train_loss": [0.9], "best_epoch": 0}}).train_loss
            [0.9]
        """
        stored = checkpoint.get("history")
        known = {item.name for item in fields(cls)}
        if not isinstance(stored, dict) or set(stored) - known:
            unknown = sorted(set(stored) - known) if isinstance(stored, dict) else []
            version = checkpoint.get("course_version", "an unknown version")
            raise CheckpointError(
                f"The checkpoint's history ({', '.join(unknown) or type(stored).__name__}) is not one this version "
                f"of the course writes; it was saved by course version {version}. Upgrade the course "
                "(pip install -U ...) to continue that run, or start fresh in a new checkpoint folder.")
        return cls(**stored)


def remaining_time_note(epoch_seconds: float, epochs_left: int) -> str | None:
    """Return a line estimating the remaining epochs from the first one's time, or ``None`` for a short wait.

    Example:
        >>> remaining_time_note(90.0, 9)
        'the first epoch took 90 s; the 9 epochs left will take about 14 min'
        >>> remaining_time_note(2.0, 9) is None
        True
    """
    left = epoch_seconds * epochs_left
    if epochs_left < 1 or left < LONG_RUN_SECONDS:
        return None
    return (f"the first epoch took {epoch_seconds:.0f} s; the {epochs_left} epochs left will take about "
            f"{left / 60:.0f} min")


def copy_of_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return a copy of ``model.state_dict()`` that later training does not change."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


class TrainingDivergedError(FloatingPointError):
    """The weights stopped being numbers (NaN or infinite) during training; the message says what to try."""


def check_weights_finite(model: nn.Module, epoch: int, train_loss: float) -> None:
    """Raise :class:`TrainingDivergedError` if any weight of ``model`` is NaN or infinite after ``epoch``.

    Called when an epoch's training loss is not finite. A float16 run whose
    loss overflowed but whose weights are fine (the gradient scaler skipped
    those steps) goes on.

    Example:
        >>> check_weights_finite(nn.Linear(2, 1), epoch=1, train_loss=float("inf"))
    """
    broken = [name for name, tensor in model.state_dict().items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise TrainingDivergedError(
            f"The training loss became {train_loss} in epoch {epoch} and {len(broken)} weight tensor(s) "
            f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}) are no longer numbers, so training "
            "stopped; that epoch was not kept. Usually the learning rate is too high (try one 10 times lower), or "
            "the data holds NaN or infinite values (check a batch with torch.isfinite(images).all()).")


def step_scheduler_after_epoch(scheduler: LRScheduler, valid_loss: float) -> None:
    """Step a per-epoch scheduler; ``ReduceLROnPlateau`` needs the validation loss to decide."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(valid_loss)
    else:
        scheduler.step()


def fit(model: nn.Module, train_loader: Iterable, valid_loader: Iterable, loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer, epochs: int, *, device: str | torch.device | None = "auto",
        scheduler: LRScheduler | None = None, patience: int | None = None,
        checkpoints: CheckpointManager | None = None, precision: str = "auto", progress: bool = True) -> History:
    """Train for ``epochs`` epochs, validating after each; return the :class:`History`.

    Everything after ``epochs`` is passed by name. At the end ``model`` holds the
    weights of its best epoch (the lowest validation loss); the last epoch's are in
    the checkpoint folder, if there is one. If the weights stop being numbers (a
    learning rate far too high, NaN in the data), ``fit`` stops with
    :class:`TrainingDivergedError`, the model back at its best epoch.

    Args:
        device: where to train (``"auto"``: see :func:`helpers.devices.choose_device`).
        scheduler: a learning-rate scheduler. OneCycleLR and CyclicLR step after every
            batch, ReduceLROnPlateau after every epoch with the validation loss, the
            others (StepLR, ...) after every epoch.
        patience: stop early after this many epochs without a lower validation loss.
        checkpoints: a :class:`helpers.checkpoints.CheckpointManager`. ``fit`` then
            resumes from its latest checkpoint, if any (:meth:`~CheckpointManager.resume_training`),
            and saves one every epoch (:meth:`~CheckpointManager.save_epoch`; also ``best.pt``
            whenever the validation loss improves).
        precision: ``"auto"`` (mixed precision on a CUDA GPU, float32 elsewhere), ``"mixed"``,
            ``"float32"``, ``"bfloat16"`` or ``"float16"``: see :func:`training_precision`.
        progress: show a progress bar per epoch.

    Example:
        >>> history = fit(model, loaders.train, loaders.valid, nn.CrossEntropyLoss(),
        ...               optimizer, epochs=5)  # doctest: +SKIP
        >>> history.best_epoch, history.valid_accuracy[-1]  # doctest: +SKIP
        (5, 0.91)
    """
    device = choose_device(device)
    model.to(device)
    loaders = [train_loader, valid_loader]
    history, best_state = History(), None
    if checkpoints is not None:
        stored, best_state = checkpoints.resume_training(model, optimizer, scheduler, loaders)
        history = History.from_checkpoint(stored) if stored is not None else history
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    run_precision = training_precision(device, precision)
    first_epoch = len(history)
    for epoch in range(first_epoch, epochs):
        lr = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        with progress_bar(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress) as bar:
            train_loss, train_accuracy = train_one_epoch(model, counted(train_loader, bar), loss_fn, optimizer,
                                                         device, scheduler=scheduler if per_batch else None,
                                                         precision=run_precision)
            valid_loss, valid_accuracy = evaluate(model, valid_loader, loss_fn, device, precision=run_precision)
            bar.set_postfix_str(f"train loss {train_loss:.3f} acc {train_accuracy:.3f} | "
                                f"valid loss {valid_loss:.3f} acc {valid_accuracy:.3f}")
        if not math.isfinite(train_loss):
            try:
                check_weights_finite(model, epoch + 1, train_loss)
            except TrainingDivergedError:
                if best_state is not None:
                    model.load_state_dict(best_state)  # the model keeps its best epoch, as at a normal end
                raise
        if not math.isfinite(valid_loss):
            raise ValueError(f"The validation loss is {valid_loss} after epoch {epoch + 1} though the weights are "
                             "numbers: the validation data holds NaN or infinite values (check a batch with "
                             "torch.isfinite(images).all()), or a float16 run overflowed (try "
                             "precision=\"bfloat16\" or \"float32\"). Without a finite loss no epoch can be "
                             "called best.")
        note = remaining_time_note(time.perf_counter() - started, epochs - epoch - 1)
        if epoch == first_epoch and progress and note is not None:
            print(note)
        if scheduler is not None and not per_batch:
            step_scheduler_after_epoch(scheduler, valid_loss)
        improved = history.add(train_loss, train_accuracy, valid_loss, valid_accuracy, lr)
        if improved:
            best_state = copy_of_state(model)
        if checkpoints is not None:
            checkpoints.save_epoch(model, optimizer, scheduler, epoch + 1, history.as_dict(), loaders, improved)
        if patience is not None and history.epochs_since_best() >= patience:
            print(f"early stop after epoch {epoch + 1}: the validation loss has not improved "
                  f"for {patience} epochs (best: epoch {history.best_epoch})")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
