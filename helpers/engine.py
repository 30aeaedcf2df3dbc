"""The training loop, as notebook 06 built it: a train step, an evaluation step and ``fit``.

* :func:`train_step` runs one epoch of the five steps (zero_grad, forward, loss,
  backward, step) and returns the epoch's loss and accuracy.
* :func:`evaluate` runs the model in ``eval`` mode under ``torch.no_grad()``.
* :func:`fit` repeats both for some epochs: it keeps a :class:`History`, shows
  progress bars, moves model and data to the device, keeps the best model by
  validation loss, steps an optional learning-rate scheduler, stops early when
  asked, and saves and resumes checkpoints through :mod:`helpers.checkpoints`.

Metrics are weighted by batch size (the sum of ``loss * batch_size`` over the
samples), so a small last batch counts for what it is. They are summed on the
device and read once per epoch: ``loss.item()`` on every batch would make the
CPU wait for the GPU at every step.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator, TypeVar

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from tqdm.std import tqdm

from helpers.checkpoints import CheckpointManager, full_checkpoint
from helpers.devices import choose_device

Item = TypeVar("Item")
PER_BATCH_SCHEDULERS = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)
"""Schedulers whose schedule is counted in batches: they step after every optimizer step."""


def progress_bar(iterable: Iterable[Item] | None = None, desc: str = "", total: int | None = None,
                 disable: bool = False) -> tqdm:
    """Return a text progress bar that reads well live and once a notebook is saved.

    Text bars (``tqdm.std``, what ``from tqdm import tqdm`` gives) rather than
    ``tqdm.auto``: they update in place in JupyterLab, Colab, Kaggle and a
    terminal, need no ipywidgets (without it ``tqdm.auto`` prints a warning into
    the notebook), and a saved notebook keeps their last state as one line of
    plain text. They write to stdout, so notebooks do not colour them as errors.

    Example:
        >>> for batch in progress_bar(range(3), desc="train"):  # doctest: +SKIP
        ...     pass
        train: 100%|██████████| 3/3 [00:00<00:00, ...]
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    return tqdm(iterable, desc=desc, total=total, disable=disable, file=sys.stdout, ncols=110,
                mininterval=0.5)


def counted(iterable: Iterable[Item], bar: tqdm) -> Iterator[Item]:
    """Yield the items of ``iterable``, advancing ``bar`` by one after each."""
    for item in iterable:
        yield item
        bar.update()


def train_step(model: nn.Module, loader: Iterable, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
               device: torch.device, scheduler: LRScheduler | None = None) -> tuple[float, float]:
    """Train ``model`` for one epoch over ``loader``; return the epoch's (loss, accuracy).

    ``scheduler``, when given, steps after every batch (OneCycleLR does).

    Example:
        >>> train_loss, train_accuracy = train_step(model, loaders.train, loss_fn, optimizer, device)  # doctest: +SKIP
    """
    model.train()  # Dropout drops, BatchNorm uses and updates batch statistics
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    samples = 0
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        optimizer.zero_grad()  # 1. forget the previous batch's gradients
        logits = model(images)  # 2. forward pass
        loss = loss_fn(logits, labels)  # 3. the loss: the mean over this batch
        loss.backward()  # 4. backward pass: gradients for every parameter
        optimizer.step()  # 5. update the parameters
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * labels.size(0)
        correct += (logits.argmax(dim=1) == labels).sum()
        samples += labels.size(0)
    return loss_sum.item() / samples, correct.item() / samples


def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
             device: torch.device) -> tuple[float, float]:
    """Return ``model``'s (loss, accuracy) over ``loader``, without training it.

    Example:
        >>> valid_loss, valid_accuracy = evaluate(model, loaders.valid, loss_fn, device)  # doctest: +SKIP
    """
    model.eval()  # Dropout keeps everything, BatchNorm uses its running statistics
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    samples = 0
    with torch.no_grad():  # no tape: less memory, faster
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            logits = model(images)
            loss_sum += loss_fn(logits, labels) * labels.size(0)
            correct += (logits.argmax(dim=1) == labels).sum()
            samples += labels.size(0)
    return loss_sum.item() / samples, correct.item() / samples


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


def copy_of_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return a copy of ``model.state_dict()`` that later training does not change."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def step_scheduler_after_epoch(scheduler: LRScheduler, valid_loss: float) -> None:
    """Step a per-epoch scheduler; ``ReduceLROnPlateau`` needs the validation loss to decide."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(valid_loss)
    else:
        scheduler.step()


def fit(model: nn.Module, train_loader: Iterable, valid_loader: Iterable, loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer, epochs: int, device: str | torch.device | None = "auto",
        scheduler: LRScheduler | None = None, patience: int | None = None,
        checkpoints: CheckpointManager | None = None,
        restore_best: bool = True, progress: bool = True) -> History:
    """Train for ``epochs`` epochs, validating after each; return the :class:`History`.

    Args:
        scheduler: a learning-rate scheduler. OneCycleLR and CyclicLR step after every
            batch, ReduceLROnPlateau after every epoch with the validation loss, the
            others (StepLR, ...) after every epoch.
        patience: stop early after this many epochs without a lower validation loss.
        checkpoints: a :class:`helpers.checkpoints.CheckpointManager`. ``fit`` then
            resumes from its latest checkpoint, if any, and saves one every epoch
            (and ``best.pt`` whenever the validation loss improves).
        restore_best: load the weights of the best epoch into ``model`` at the end.

    Example:
        >>> history = fit(model, loaders.train, loaders.valid, nn.CrossEntropyLoss(),
        ...               optimizer, epochs=5)  # doctest: +SKIP
        >>> history.best_epoch, history.valid_accuracy[-1]  # doctest: +SKIP
        (5, 0.91)
    """
    device = choose_device(device)
    model.to(device)
    history, best_state = History(), None
    if checkpoints is not None:
        resumed = checkpoints.resume(model, optimizer, scheduler, loaders=[train_loader, valid_loader])
        if resumed is not None:
            history = History(**resumed["history"])
            best_state = checkpoints.best_model_state()
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    for epoch in range(len(history), epochs):
        lr = optimizer.param_groups[0]["lr"]
        with progress_bar(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress) as bar:
            train_loss, train_accuracy = train_step(model, counted(train_loader, bar), loss_fn, optimizer,
                                                    device, scheduler if per_batch else None)
            valid_loss, valid_accuracy = evaluate(model, valid_loader, loss_fn, device)
            bar.set_postfix_str(f"train loss {train_loss:.3f} acc {train_accuracy:.3f} | "
                                f"valid loss {valid_loss:.3f} acc {valid_accuracy:.3f}")
        if scheduler is not None and not per_batch:
            step_scheduler_after_epoch(scheduler, valid_loss)
        improved = history.add(train_loss, train_accuracy, valid_loss, valid_accuracy, lr)
        if improved:
            best_state = copy_of_state(model)
        if checkpoints is not None:
            state = full_checkpoint(model, optimizer, scheduler, epoch=epoch + 1,
                                                  history=history.as_dict(),
                                                  loaders=[train_loader, valid_loader])
            checkpoints.save(state, epoch=epoch + 1, is_best=improved)
        if patience is not None and history.epochs_since_best() >= patience:
            print(f"early stop after epoch {epoch + 1}: the validation loss has not improved "
                  f"for {patience} epochs (best: epoch {history.best_epoch})")
            break
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history
