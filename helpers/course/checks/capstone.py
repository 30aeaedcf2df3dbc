"""Checks for the exercises of notebook 11, the capstone."""

from __future__ import annotations

import numpy as np
import torch

from helpers.course.checks import Verdict, as_number, exercise_check, kind_of, number_problem, plain_words
from helpers.course.checks.predict import parasitized_recall  # notebook 11 asks what notebook 09 asked


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


@exercise_check
def flag_with_threshold(answer: object, scores: torch.Tensor, threshold: float) -> Verdict:
    """The answer flags the cells whose probability of Parasitized is at least ``threshold``: ``scores >= threshold``."""
    if isinstance(answer, np.ndarray):
        answer = torch.from_numpy(answer)
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a tensor of True/False flags, such as scores >= 0.2; got {kind_of(answer)}."
    if answer.shape != scores.shape:
        return False, f"expected one flag per test cell, shape {tuple(scores.shape)}, got {tuple(answer.shape)}."
    if answer.is_floating_point() and not set(answer.unique().tolist()) <= {0.0, 1.0}:
        return False, "those are probabilities; compare them with the threshold to get flags: scores >= 0.2."
    flags = answer.bool()
    if torch.equal(flags, scores >= threshold):
        return True, ""
    if torch.equal(flags, scores >= 0.5):
        return False, "that is the default threshold 0.5; lower it to 0.2 to flag more cells."
    if torch.equal(flags, scores < threshold) or torch.equal(flags, scores <= threshold):
        return False, "that flags the cells below the threshold, the likely healthy ones: use >=."
    if torch.equal(flags, scores > threshold):
        return False, "a cell whose probability is exactly 0.2 must be flagged too: at least 0.2 is >=, not >."
    return False, "flag a cell when its probability of Parasitized is at least 0.2."


@exercise_check
def recall_at_threshold(answer: object, labels: torch.Tensor, scores: torch.Tensor, classes: list[str],
                        threshold: float = 0.2) -> Verdict:
    """The answer is the recall of Parasitized when a cell is flagged at ``scores >= threshold``."""
    problem = number_problem(answer, "a number between 0 and 1")
    if problem:
        return False, problem
    value = as_number(answer)
    infected = labels == classes.index("Parasitized")

    def recall(flags: torch.Tensor) -> float:
        return float((flags & infected).sum()) / max(int(infected.sum()), 1)

    flagged = scores >= threshold
    if abs(value - recall(flagged)) < 1e-6:
        return True, ""
    if abs(value - recall(scores >= 0.5)) < 1e-6:
        return False, "that is the recall at the default threshold 0.5; flag the cells with scores >= 0.2."
    if flagged.any() and abs(value - float((flagged & infected).sum()) / int(flagged.sum())) < 1e-6:
        return False, "that divides by the flagged cells: that is the precision. Recall divides by the infected cells."
    if abs(value - float(flagged.float().mean())) < 1e-6:
        return False, "that is the share of all test cells flagged; recall counts only the truly parasitized ones."
    if abs(value * 0.01 - recall(flagged)) < 1e-6:
        return False, "that is a percentage; give the fraction, between 0 and 1."
    return False, ("flag the cells with scores >= 0.2, then divide the flagged parasitized cells by all parasitized "
                   "cells (labels == classes.index('Parasitized')).")
