"""Checks for the exercises of notebook 06, the training loop."""

from __future__ import annotations

import math

import torch
from torch import nn

from helpers.course.checks import Verdict, exercise_check


def _reference_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer) -> torch.Tensor:
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def _parameters_after_two_steps(step: object) -> tuple[list[list[torch.Tensor]], list[float]]:
    """Run ``step`` twice on a fixed tiny problem; return the parameters after each call and the losses."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    images, labels = torch.randn(8, 4), torch.arange(8) % 3
    snapshots, losses = [], []
    for _ in range(2):
        loss = step(model, images, labels, nn.CrossEntropyLoss(), optimizer)
        losses.append(float(torch.as_tensor(loss).detach()))
        snapshots.append([p.detach().clone() for p in model.parameters()])
    return snapshots, losses


@exercise_check
def training_step(answer: object) -> Verdict:
    """The answer is ``step(model, images, labels, loss_fn, optimizer) -> loss`` doing the five steps."""
    if not callable(answer):
        return False, f"expected a function, got a {type(answer).__name__}; define it with `def`."
    expected, expected_losses = _parameters_after_two_steps(_reference_step)
    found, found_losses = _parameters_after_two_steps(answer)
    start = _parameters_after_two_steps(lambda model, *rest: torch.tensor(0.0))[0][0]

    def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
        return all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))

    if same(found[0], start):
        return False, ("the weights did not change: call loss.backward() and then optimizer.step(), "
                       "and zero the gradients before backward, not between backward and step.")
    if not same(found[0], expected[0]):
        return False, "the first update is not one SGD step on this batch's loss; check the order of the steps."
    if not same(found[1], expected[1]):
        return False, ("the second update is too big: the gradients of the first batch were still there. "
                       "Call optimizer.zero_grad() at the start of every step.")
    if not math.isclose(found_losses[0], expected_losses[0], rel_tol=1e-5):
        return False, "the weights are right; now return the loss the forward pass computed."
    return True, ""


@exercise_check
def weighted_accuracy(answer: object, batch_correct: list[int], batch_sizes: list[int]) -> Verdict:
    """The answer is the accuracy over all samples: total correct / total samples."""
    value = float(answer)
    expected = sum(batch_correct) / sum(batch_sizes)
    mean_of_means = sum(c / s for c, s in zip(batch_correct, batch_sizes)) / len(batch_sizes)
    if math.isclose(value, expected, rel_tol=1e-6):
        return True, ""
    if math.isclose(value, mean_of_means, rel_tol=1e-6):
        return False, ("that is the mean of the batch accuracies, which gives the small last batch as much "
                       "weight as a full one. Add up the correct answers and divide by all the samples.")
    return False, f"got {value:g}; divide the total of batch_correct by the total of batch_sizes."


@exercise_check
def halving_rates(answer: object) -> Verdict:
    """The answer lists the learning rate of epochs 1 to 6 under StepLR(step_size=2, gamma=0.5) from 0.1."""
    rates = [float(rate) for rate in answer]
    expected = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    if len(rates) != len(expected):
        return False, f"expected {len(expected)} rates (one per epoch), got {len(rates)}."
    if all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(rates, expected)):
        return True, ""
    if math.isclose(rates[0], 0.05, rel_tol=1e-6):
        return False, "read the rate at the start of the epoch, before calling scheduler.step()."
    if math.isclose(rates[1], 0.05, rel_tol=1e-6):
        return False, ("the rate halves every epoch: use step_size=2, and call scheduler.step() once per "
                       "epoch, after reading the rate.")
    return False, f"got {rates}; start at lr=0.1 and use StepLR(optimizer, step_size=2, gamma=0.5)."
