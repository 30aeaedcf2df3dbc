"""Checks for the exercises of notebook 11, the capstone."""

from __future__ import annotations

import numpy as np
import torch

from helpers.course.checks import (
    Verdict,
    as_number,
    as_number_list,
    call_learner_function,
    close_at_given_precision,
    exercise_check,
    kind_of,
    plain_words,
)

SELECTION_CHOICES = ("validation loss", "training accuracy", "test accuracy")


@exercise_check
def model_selection(answer: object) -> Verdict:
    """The answer is "validation loss" (also written "val loss", "the lowest validation loss"...)."""
    if not isinstance(answer, str):
        return False, f'answer with one of the texts {", ".join(map(repr, SELECTION_CHOICES))}; got {kind_of(answer)}.'
    fillers = {"the", "a", "one", "model", "epoch", "checkpoint", "with", "by", "of", "its", "on", "lowest", "smallest",
               "minimum", "min", "least", "highest", "best", "choose", "pick", "select", "keep"}
    short_names = {"val": "validation", "valid": "validation", "dev": "validation"}
    words = [short_names.get(word, word) for word in plain_words(answer) if word not in fillers]
    text = " ".join(words)
    if text in ("validation loss", "validation", "validation set loss", "validation split loss"):
        return True, ""
    if "test" in text:
        return False, "choosing by the test score makes the test split part of training: it stops measuring new data."
    if "train" in text:
        return False, "training accuracy rewards memorising (notebook 06's overfitting lesson)."
    return False, f'answer one of {", ".join(map(repr, SELECTION_CHOICES))}.'


def recall_at(threshold: float, scores: torch.Tensor, is_parasitized: torch.Tensor) -> float:
    """The share of parasitized cells flagged when a cell is flagged at ``scores >= threshold``.

    Example:
        >>> recall_at(0.5, torch.tensor([0.9, 0.4, 0.7]), torch.tensor([True, True, False]))
        0.5
    """
    found = int((scores >= threshold)[is_parasitized].sum())
    return found / int(is_parasitized.sum())  # a Python division: 135 / 150 is exactly the float 0.9


def highest_threshold(scores: torch.Tensor, is_parasitized: torch.Tensor, target: float) -> float:
    """The highest threshold whose recall is at least ``target``: the k-th highest parasitized cell's score.

    Example:
        >>> highest_threshold(torch.tensor([0.9, 0.4, 0.7, 0.2]), torch.tensor([True, True, False, True]), 0.6)
        0.4000000059604645
    """
    positives = scores[is_parasitized].sort(descending=True).values
    needed = next(count for count in range(1, len(positives) + 1) if count / len(positives) >= target)
    return float(positives[needed - 1])


GRID_STEP = 0.01
"""A threshold found on a grid this fine, just below the highest one, is as good an answer."""


def _threshold_problem(threshold: object, scores: torch.Tensor, is_parasitized: torch.Tensor, target: float) -> str:
    """Return what is wrong with ``threshold`` as the highest threshold of recall at least ``target``, or ``""``."""
    value = as_number(threshold)
    if value is None:
        return f"the function returned {kind_of(threshold)}; return the threshold, one number."
    best = highest_threshold(scores, is_parasitized, target)
    recall = recall_at(value, scores, is_parasitized)
    if best - GRID_STEP - 1e-9 <= value <= best + 1e-9 or close_at_given_precision(value, best):
        return ""  # the highest threshold, one a 0.01 grid finds just below it, or it rounded as written
    if abs(value - recall_at(best, scores, is_parasitized)) < 1e-9 and recall < target:
        return "that is the recall; return the threshold that gives it."
    if value > best:
        return (f"at {value:.4f} the recall is {recall:.3f}, below the target {target:g}; the highest threshold that "
                f"keeps it is {best:.4f}. Flag a cell when its score is at least the threshold (>=).")
    if value <= float(scores[is_parasitized].min()) + 1e-9 and best > value + GRID_STEP:
        return (f"{value:.4f} keeps the recall (every parasitized cell is flagged) but flags far more healthy cells "
                f"than needed: the exercise asks for the highest threshold that keeps it, {best:.4f}.")
    return (f"{value:.4f} keeps the recall but is not the highest threshold that does ({best:.4f}): a coarse grid "
            "(or > instead of >=) stops short. Try the parasitized cells' own scores as thresholds.")


def _score_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """Scores and labels the notebook never used, with ties, and targets up to 1."""
    generator = torch.Generator().manual_seed(11)
    is_parasitized = torch.rand(300, generator=generator) < 0.5
    scores = (is_parasitized.float() * 0.35 + torch.rand(300, generator=generator) * 0.65).clamp(0, 1)
    tied = torch.tensor([0.9, 0.8, 0.8, 0.8, 0.3, 0.6, 0.2, 0.8])
    tied_labels = torch.tensor([True, True, True, True, True, False, False, False])
    return [(scores, is_parasitized, 0.9), (scores, is_parasitized, 0.975), (scores, is_parasitized, 1.0),
            (tied, tied_labels, 0.5)]


@exercise_check
def threshold_for_recall(answer: object) -> Verdict:
    """The answer is ``threshold_for_recall(scores, is_parasitized, target)``: the highest threshold keeping recall.

    It is called on scores it never saw (ties, and a target of 1); a threshold from a 0.01 grid just below
    the highest one is accepted.
    """
    if not callable(answer):
        return False, (f"expected your function itself (answer_threshold_for_recall = threshold_for_recall), got "
                       f"{kind_of(answer)}.")
    for scores, is_parasitized, target in _score_cases():
        threshold, problem = call_learner_function(answer, scores.clone(), is_parasitized.clone(), target)
        if problem:
            return False, f"{problem} (for {len(scores)} cells and target {target:g})."
        problem = _threshold_problem(threshold, scores, is_parasitized, target)
        if problem:
            return False, f"for {len(scores)} cells and target {target:g}: {problem}"
    return True, ""


def _screening_problem(threshold: float, recall: float, false_alarms: float, valid_scores: torch.Tensor,
                       valid_is_parasitized: torch.Tensor, test_scores: torch.Tensor,
                       test_is_parasitized: torch.Tensor) -> str:
    """Return what is wrong with the test ``recall`` and ``false_alarms`` at ``threshold``, or ``""``."""
    flagged = test_scores >= threshold
    test_recall = recall_at(threshold, test_scores, test_is_parasitized)
    healthy_flagged = float(flagged[~test_is_parasitized].float().mean())
    if not close_at_given_precision(recall, test_recall):
        if close_at_given_precision(recall, recall_at(threshold, valid_scores, valid_is_parasitized)):
            return "that recall is the validation cells'; measure it on the test cells at your threshold."
        return (f"at your threshold the test recall is {test_recall:.4f}; got {recall:.4f} (flag test cells with "
                "test_scores >= threshold and divide the flagged parasitized ones by all parasitized).")
    if not close_at_given_precision(false_alarms, healthy_flagged):
        if abs(false_alarms - float(flagged[~test_is_parasitized].sum())) < 0.5:
            return "that is how many healthy cells were flagged; give the share of all healthy test cells."
        if close_at_given_precision(false_alarms, float(flagged.float().mean())):
            return "that is the share of all test cells flagged; count the healthy (uninfected) ones only."
        return f"at your threshold {healthy_flagged:.4f} of the healthy test cells are flagged; got {false_alarms:.4f}."
    return ""


@exercise_check
def screening_at_threshold(answer: object, valid_scores: torch.Tensor, valid_is_parasitized: torch.Tensor,
                           test_scores: torch.Tensor, test_is_parasitized: torch.Tensor, target: float) -> Verdict:
    """The answer is (threshold chosen on validation, test recall, share of healthy test cells flagged) at it."""
    if isinstance(answer, (np.ndarray, torch.Tensor)):  # an array of the three numbers is as good as a tuple
        answer = as_number_list(answer) or []
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        return False, (f"expected three numbers, (threshold, test recall, share of healthy test cells flagged); "
                       f"got {kind_of(answer)}.")
    numbers = as_number_list(answer)
    if numbers is None:
        return False, f"expected three numbers; got ({', '.join(kind_of(value) for value in answer)})."
    threshold, recall, false_alarms = numbers
    if _threshold_problem(threshold, valid_scores, valid_is_parasitized, target):
        if not _threshold_problem(threshold, test_scores, test_is_parasitized, target):
            return False, ("that threshold was chosen on the test cells: then the test recall is no longer a fair "
                           "measure. Choose it on the validation cells, and only then look at the test cells.")
        return False, (f"the threshold should be threshold_for_recall(valid_scores, valid_is_parasitized, {target:g}) "
                       f"= {highest_threshold(valid_scores, valid_is_parasitized, target):.4f}; got {threshold:.4f}.")
    # The numbers may come from the threshold as computed or as rounded for the answer: accept either.
    reference = highest_threshold(valid_scores, valid_is_parasitized, target)
    problems = [_screening_problem(at, recall, false_alarms, valid_scores, valid_is_parasitized, test_scores,
                                   test_is_parasitized) for at in (threshold, reference)]
    if all(problems):
        return False, problems[0]
    return True, ""
