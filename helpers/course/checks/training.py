"""Checks for the exercises of notebook 06, the training loop."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
from torch import nn

from helpers.course.checks import (
    Verdict,
    as_number,
    as_number_list,
    call_learner_function,
    close_at_given_precision,
    exercise_check,
    kind_of,
    number_problem,
    plain_words,
)


def _reference_step(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer) -> torch.Tensor:
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def _two_steps(step: Callable[..., object]) -> tuple[list[list[torch.Tensor]], list[object], str]:
    """Run ``step`` twice on a fixed tiny problem.

    Return the parameters after each call, what each call returned, and a failure (``""`` when none).
    """
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    images, labels = torch.randn(8, 4), torch.arange(8) % 3
    snapshots: list[list[torch.Tensor]] = []
    returned: list[object] = []
    for _ in range(2):
        result, failure = call_learner_function(step, model, images, labels, nn.CrossEntropyLoss(), optimizer)
        if failure:
            return snapshots, returned, failure
        returned.append(result)
        snapshots.append([p.detach().clone() for p in model.parameters()])
    return snapshots, returned, ""


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))


@exercise_check
def training_step(answer: object) -> Verdict:
    """The answer is ``step(model, images, labels, loss_fn, optimizer) -> loss`` doing the five steps."""
    if not callable(answer):
        return False, f"expected a function, got {kind_of(answer)}; define it with `def` and give its name."
    expected, expected_losses, _ = _two_steps(_reference_step)
    found, returned, failure = _two_steps(answer)
    if failure:
        return False, f"{failure}. It is called as step(model, images, labels, loss_fn, optimizer)."
    start = _two_steps(lambda *arguments: None)[0][0]
    if _same(found[0], start):
        return False, ("the weights did not change: call loss.backward() and then optimizer.step() "
                       "(zero the gradients before backward, not between backward and step).")
    if not _same(found[0], expected[0]):
        return False, ("the first update is not one SGD step on this batch's loss: the order is zero_grad, "
                       "forward, loss, backward, step.")
    if not _same(found[1], expected[1]):
        return False, ("the second update is too big: the gradients of the first batch were still there. "
                       "Call optimizer.zero_grad() at the start of every step.")
    if returned[0] is None:
        return False, "your function returns None: the weights are right; now return the loss."
    loss = as_number(returned[0])
    if loss is None:
        return False, f"your function returns {kind_of(returned[0])}: return the loss (one number)."
    expected_loss = cast(torch.Tensor, expected_losses[0])  # what _reference_step returned
    if not math.isclose(loss, expected_loss.item(), rel_tol=1e-5):
        return False, "the weights are right, but the returned number is not this batch's loss: return the loss."
    return True, ""


@exercise_check
def weighted_accuracy(answer: object, batch_correct: list[int], batch_sizes: list[int]) -> Verdict:
    """The answer is the accuracy over all samples: total correct / total samples."""
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "a number between 0 and 1")
    expected = sum(batch_correct) / sum(batch_sizes)
    mean_of_means = sum(c / s for c, s in zip(batch_correct, batch_sizes)) / len(batch_sizes)
    if close_at_given_precision(value, expected):
        return True, ""
    if close_at_given_precision(value / 100, expected):
        return False, "that is a percentage; give the fraction (between 0 and 1), as the training loop does."
    if math.isclose(value, mean_of_means, rel_tol=1e-4):
        return False, ("that is the mean of the batch accuracies, which gives the small last batch as much "
                       "weight as a full one. Add up the correct answers and divide by all the samples.")
    if math.isclose(value, sum(batch_correct) / (len(batch_sizes) * max(batch_sizes)), rel_tol=1e-4):
        return False, "that assumes every batch is full; the last one has only 4 images: divide by sum(batch_sizes)."
    return False, f"got {value:g}; divide the total of batch_correct by the total of batch_sizes."


@exercise_check
def halving_rates(answer: object) -> Verdict:
    """The answer lists the learning rate of epochs 1 to 6 under StepLR(step_size=2, gamma=0.5) from 0.1."""
    if not isinstance(answer, (list, tuple, np.ndarray, torch.Tensor)):
        return False, f"expected a list of 6 learning rates, got {kind_of(answer)}."
    rates = as_number_list(answer)
    if rates is None:
        return False, "every entry should be a number: append optimizer.param_groups[0]['lr']."
    expected = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    if len(rates) != len(expected):
        return False, f"expected {len(expected)} rates (one per epoch), got {len(rates)}."
    if all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(rates, expected)):
        return True, ""
    read_after_step = expected[1:] + [expected[-1] / 2]
    if math.isclose(rates[0], 0.05, rel_tol=1e-6) or all(
            math.isclose(a, b, rel_tol=1e-6) for a, b in zip(rates, read_after_step)):
        return False, "read the rate at the start of the epoch, before calling scheduler.step()."
    if math.isclose(rates[1], 0.05, rel_tol=1e-6):
        return False, ("the rate halves every epoch: use step_size=2, and call scheduler.step() once per "
                       "epoch, after reading the rate.")
    if all(math.isclose(rate, 0.1, rel_tol=1e-6) for rate in rates):
        return False, "the rate never changes: call scheduler.step() at the end of each epoch."
    return False, f"got {rates}; start at lr=0.1 and use StepLR(optimizer, step_size=2, gamma=0.5)."


@exercise_check
def epoch_to_keep(answer: object, train_losses: list[float], valid_losses: list[float]) -> Verdict:
    """The answer is the epoch (numbered from 1) with the lowest validation loss: the weights to keep."""
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "an epoch number")
    best = min(range(len(valid_losses)), key=valid_losses.__getitem__)
    if value == best + 1:
        return True, ""
    if value == best:
        return False, "that is the position in the Python list (from 0); the table numbers epochs from 1."
    if value == len(valid_losses):
        return False, ("the last epoch has the lowest training loss but the model has been memorising since the "
                       "validation loss turned up: keep the epoch where validation was best.")
    if value == min(range(len(train_losses)), key=train_losses.__getitem__) + 1:
        return False, "the training loss always falls; choose by the validation loss, which measures unseen data."
    return False, f"got {value:g}; find the epoch whose validation loss is the lowest."


def course_verdict(differences: list[float]) -> str:
    """The course's rule: "better"/"worse" only where every seed agrees in sign and |mean| > 2 x stdev, else "tie".

    Example:
        >>> course_verdict([0.05, 0.06, 0.04]), course_verdict([0.05, -0.01, 0.04]), course_verdict([-0.2, -0.3])
        ('better', 'tie', 'worse')
    """
    return course_verdict_with(differences, statistics.stdev)


def course_verdict_with(differences: list[float], spread_of: Callable[[list[float]], float]) -> str:
    """The course's rule with the seed spread measured by ``spread_of``."""
    mean, spread = statistics.fmean(differences), spread_of(differences)
    agree = all(d > 0 for d in differences) or all(d < 0 for d in differences)
    if not agree or abs(mean) <= 2 * spread:
        return "tie"
    return "better" if mean > 0 else "worse"


VERDICT_CASES: tuple[tuple[list[float], str], ...] = (
    ([0.05, 0.06, 0.04, 0.05, 0.07], "every seed agrees and the mean is far above the spread"),
    ([-0.031, -0.045, -0.04, -0.052, -0.038], "every seed agrees, the other way"),
    ([0.05, -0.01, 0.09, 0.02, 0.04], "the seeds disagree in sign"),
    ([0.01, 0.09, 0.02, 0.12, 0.005], "every seed agrees, but the spread is as large as the mean"),
    ([0.004, 0.014, 0.024, 0.034, 0.044], "every seed agrees and the mean is above one spread but below two"),
    ([0.01, 0.02, 0.03, 0.04, 0.05], "the mean is just below two sample standard deviations"),
    ([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, -0.001], "a large mean, yet one seed of ten disagrees"),
    ([0.001, 0.2, 0.21, 0.22, 0.23], "four seeds gain much, one almost nothing: the mean is below two spreads"),
    ([0.012, 0.018], "two seeds only"),
    ([0.0, 0.0, 0.0], "no difference at all"),
)
"""Seed differences the check tries, with what makes each one a lesson; their verdicts come from the rule."""

_MISREADINGS: tuple[tuple[Callable[[list[float]], str], str], ...] = (
    (lambda d: "tie" if abs(statistics.fmean(d)) <= 2 * statistics.stdev(d)
     else ("better" if statistics.fmean(d) > 0 else "worse"),
     "a difference counts only if every seed agrees in sign: one seed the other way makes it a tie."),
    (lambda d: "better" if all(x > 0 for x in d) else "worse" if all(x < 0 for x in d) else "tie",
     "every seed agreeing is not enough: the mean must also exceed twice the seed spread (statistics.stdev)."),
    (lambda d: course_verdict_with(d, lambda differences: statistics.stdev(differences) / 2),
     "the mean must exceed twice the spread, not once: 2 * statistics.stdev(differences)."),
    (lambda d: course_verdict_with(d, statistics.pstdev),
     "the seed spread is the sample standard deviation, statistics.stdev (NumPy: np.std(..., ddof=1)); "
     "np.std's default divides by n and makes the spread too small."),
    (lambda d: {"better": "worse", "worse": "better"}.get(course_verdict(d), "tie"),
     "better and worse are the wrong way round: a positive mean difference means the first recipe is better."),
)
"""Other rules a learner may have written, each with the hint that names its mistake."""


def _verdict_word(value: object) -> str | None:
    """Return "better", "worse" or "tie" when ``value`` is that word (any case, spacing or punctuation), else None."""
    if not isinstance(value, str):
        return None
    words = plain_words(value)
    return words[0] if len(words) == 1 and words[0] in ("better", "worse", "tie") else None


@exercise_check
def seed_verdict(answer: object) -> Verdict:
    """The answer is a function ``verdict(differences)`` that applies the course's rule (:func:`course_verdict`).

    It is called on the seed differences in :data:`VERDICT_CASES` (several the notebook never showed) and
    must return "better", "worse" or "tie" for each; a wrong rule is recognised by the cases it gets wrong.
    """
    if not callable(answer):
        return False, f"expected your function verdict itself (answer_verdict = verdict); got {kind_of(answer)}."
    returned = []
    for differences, _ in VERDICT_CASES:
        value, problem = call_learner_function(answer, list(differences))
        if problem:
            return False, f"{problem} (called on {differences})."
        word = _verdict_word(value)
        if word is None:
            return False, (f"for {differences} your function returned {kind_of(value)}; "
                           'return "better", "worse" or "tie".')
        returned.append(word)
    expected = [course_verdict(differences) for differences, _ in VERDICT_CASES]
    if returned == expected:
        return True, ""
    for rule, hint in _MISREADINGS:
        if returned == [rule(differences) for differences, _ in VERDICT_CASES]:
            return False, hint
    wrong = next(i for i, (got, want) in enumerate(zip(returned, expected)) if got != want)
    differences, lesson = VERDICT_CASES[wrong]
    return False, (f'for {differences} ({lesson}) the rule gives "{expected[wrong]}", your function '
                   f'"{returned[wrong]}".')
