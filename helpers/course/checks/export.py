"""Checks for the exercises of notebook 10, deployment."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def keeps_control_flow(answer: object) -> Verdict:
    """The answer is ``"script"``: scripting compiles the ``if``, tracing freezes the branch it saw."""
    if not isinstance(answer, str):
        return False, f"answer with a string, \"trace\" or \"script\"; got a {type(answer).__name__}."
    choice = answer.strip().lower().removeprefix("torch.jit.")
    if choice in ("script", "scripting"):
        return True, ""
    if choice in ("trace", "tracing"):
        return False, "tracing records the branch the example input took; look at the traced Gate's wrong answer."
    return False, f"got {answer!r}; answer \"trace\" or \"script\"."


@exercise_check
def exported_output(answer: object, model: nn.Module, inputs: torch.Tensor) -> Verdict:
    """The answer is the exported program's output on ``inputs``, equal to the eager model's."""
    if isinstance(answer, torch.export.ExportedProgram):
        return False, "that is the exported program itself; call program.module()(inputs) to run it."
    if not isinstance(answer, torch.Tensor):
        return False, f"expected the output tensor, got a {type(answer).__name__}."
    with torch.no_grad():
        expected = model(inputs)
    if tuple(answer.shape) != tuple(expected.shape):
        return False, f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}: run it on the whole input."
    if not torch.allclose(answer.detach(), expected, atol=1e-5):
        return False, "the values differ from the model's: export the given model in eval mode and run it on tiny_input."
    return True, ""


@exercise_check
def max_difference(answer: object, first: torch.Tensor, second: np.ndarray) -> Verdict:
    """The answer is ``max |first - second|`` as a number."""
    value = float(answer)
    differences = np.asarray(second, dtype=np.float64) - first.detach().cpu().numpy().astype(np.float64)
    expected = float(np.abs(differences).max())
    if abs(value - expected) < 1e-9:
        return True, ""
    if abs(value - float(differences.max())) < 1e-9 or abs(value - float(differences.min())) < 1e-9:
        return False, "that is the largest signed difference; take the absolute value first (abs(...).max())."
    if abs(value - float(np.abs(differences).mean())) < 1e-9:
        return False, "that is the mean; the tolerance is about the worst case, so take the max."
    return False, f"got {value:g}; compute abs(runtime - pytorch).max() over every element."


@exercise_check
def dynamic_batch(answer: object) -> Verdict:
    """The answer is ``({0: torch.export.Dim("batch", min=1, max=64)},)``."""
    if isinstance(answer, dict):
        return False, "wrap the dict in a tuple, one entry per input of forward: ({0: ...},)."
    if not isinstance(answer, (tuple, list)) or len(answer) != 1 or not isinstance(answer[0], dict):
        return False, "expected a tuple with one dict, like ({0: torch.export.Dim(...)},)."
    spec = answer[0]
    if set(spec) != {0}:
        return False, f"the dict's keys are dimensions; the batch is dimension 0, got {sorted(spec)}."
    dim = spec[0]
    bounds = (getattr(dim, "min", None), getattr(dim, "max", None))
    if bounds == (None, None):
        return False, "map dimension 0 to torch.export.Dim(\"batch\", min=1, max=64)."
    if bounds != (1, 64):
        return False, f"the batch dimension's bounds are {bounds}; the exercise asks for 1 to 64."
    model = nn.Linear(4, 2).eval()
    program = torch.export.export(model, (torch.randn(3, 4),), dynamic_shapes=tuple(answer))
    program.module()(torch.randn(64, 4))
    return True, ""
