"""Plots of training, as notebook 06 drew them (loss and accuracy curves, learning-rate schedules), and of a
classifier's mistakes, as notebook 09 drew them (the confusion matrix)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch

from helpers.engine import PER_BATCH_SCHEDULERS, History


def plot_history(history: History, title: str = "") -> plt.Figure:
    """Plot training against validation loss (left) and accuracy (right), one point per epoch.

    Example:
        >>> plot_history(fit(model, loaders.train, loaders.valid, loss_fn, optimizer, epochs=5))  # doctest: +SKIP
    """
    epochs = range(1, len(history) + 1)
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(8, 3))
    loss_axes.plot(epochs, history.train_loss, "o-", label="train")
    loss_axes.plot(epochs, history.valid_loss, "o-", label="valid")
    if history.best_epoch:
        loss_axes.axvline(history.best_epoch, color="gray", linestyle=":", label="best")
    loss_axes.set(xlabel="epoch", ylabel="loss", title="Loss")
    accuracy_axes.plot(epochs, history.train_accuracy, "o-", label="train")
    accuracy_axes.plot(epochs, history.valid_accuracy, "o-", label="valid")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    loss_axes.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def learning_rates(make_scheduler: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler], epochs: int,
                   steps_per_epoch: int, lr: float = 0.1) -> list[float]:
    """Return the learning rate at every optimizer step of ``epochs`` epochs under a scheduler.

    The scheduler drives a throwaway optimizer, so nothing trains: this shows the
    schedule alone. It steps as ``fit`` does: after every batch for OneCycleLR and
    CyclicLR, after every epoch for the others.

    Example:
        >>> learning_rates(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), 2, 2)
        [0.1, 0.1, 0.05, 0.05]
    """
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(optimizer)
    per_batch = isinstance(scheduler, PER_BATCH_SCHEDULERS)
    rates = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_batch:
                scheduler.step()
        if not per_batch:
            scheduler.step()
    return rates


def plot_learning_rates(schedules: dict[str, list[float]], steps_per_epoch: int | None = None) -> plt.Figure:
    """Plot learning rates per step, one line per schedule; dotted lines mark epochs."""
    figure, axes = plt.subplots(figsize=(6, 3))
    for name, rates in schedules.items():
        axes.plot(rates, label=name)
    if steps_per_epoch:
        longest = max(len(rates) for rates in schedules.values())
        for boundary in range(steps_per_epoch, longest, steps_per_epoch):
            axes.axvline(boundary, color="gray", linestyle=":", linewidth=0.8)
    axes.set(xlabel="optimizer step", ylabel="learning rate", title="Learning rate per step")
    axes.legend()
    figure.tight_layout()
    return figure


def plot_confusion_matrix(matrix: torch.Tensor, classes: Sequence[str], axes: plt.Axes | None = None,
                          title: str = "confusion matrix") -> plt.Axes:
    """Draw a confusion matrix (row = true class, column = predicted) with its counts, readable on every cell.

    Each count is white on a dark cell and black on a light one.

    Example:
        >>> axes = plot_confusion_matrix(torch.tensor([[50, 3], [2, 45]]), ["Parasitized", "Uninfected"])
        >>> [text.get_color() for text in axes.texts]
        ['white', 'black', 'black', 'white']
    """
    if axes is None:
        axes = plt.subplots(figsize=(3.2, 2.8))[1]
    counts = torch.as_tensor(matrix).cpu()
    axes.imshow(counts, cmap="Blues", vmin=0)
    for row, row_counts in enumerate(counts.tolist()):
        for column, count in enumerate(row_counts):
            axes.text(column, row, count, ha="center", va="center", fontsize=11,
                      color="white" if count > counts.max().item() / 2 else "black")
    axes.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
             xlabel="predicted", ylabel="true", title=title)
    axes.grid(False)
    return axes
