"""Checks for the exercises of notebook 10, deployment."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, as_number, exercise_check, kind_of, number_problem


class Clamp(nn.Module):
    """Notebook 10's exercise model: the input when its largest value is below 1, else the input divided by it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.max() < 1:
            return x
        return x / x.max()


CLAMP_EXAMPLE = torch.full((3,), 0.5)
"""The example the exercise's trace was recorded with: its largest value is below 1."""


@exercise_check
def breaks_the_trace(answer: object) -> Verdict:
    """The answer is an input on which ``torch.jit.trace(Clamp(), CLAMP_EXAMPLE)`` and ``Clamp()`` disagree.

    The check traces ``Clamp`` itself (the notebook's traced object is not trusted), so any input whose
    largest value is above 1 passes; exactly 1 does not (both branches then give the same numbers).
    """
    if not isinstance(answer, torch.Tensor):
        return False, f"expected an input tensor, such as torch.tensor([...]), got {kind_of(answer)}."
    if answer.numel() == 0:
        return False, "an empty tensor has no largest value; give a few numbers."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TracerWarning and TorchScript's deprecation, shown in the notebook
        traced = torch.jit.trace(Clamp(), CLAMP_EXAMPLE)
    with torch.no_grad():
        eager, recorded = Clamp()(answer), traced(answer)
    same = (eager.dtype == recorded.dtype and eager.shape == recorded.shape
            and torch.allclose(eager, recorded, equal_nan=True))
    if not same:
        return True, ""
    largest = float(answer.max())
    if largest != largest:
        return False, "a NaN gives NaN on both paths; pick ordinary numbers, one of them larger than 1."
    if largest < 1:
        return False, (f"its largest value, {largest:g}, is below 1: the same branch the example took, so the trace is "
                       "right there. Which inputs take the other branch?")
    return False, (f"its largest value is exactly {largest:g}: x / x.max() then gives x itself, so both branches give "
                   "the same numbers. Pick a larger value.")


@exercise_check(seconds=60)
def exported_batches(answer: object, model: nn.Module) -> Verdict:
    """The answer is ``model`` exported with a dynamic batch dimension: its program runs on batches of 1, 7 and 64.

    Batch sizes 1 and 64 are the range's ends; 7 is one no example used.
    """
    if isinstance(answer, torch.Tensor):
        return False, ("that is an output tensor; give the exported program itself, the result of "
                       "torch.export.export(tiny, (tiny_input,), dynamic_shapes=...).")
    if answer is model:
        return False, "that is the eager model itself, not exported: call torch.export.export(tiny, ...)."
    if isinstance(answer, torch.jit.ScriptModule):
        return False, "that is TorchScript (torch.jit), the older way; the exercise asks for torch.export.export."
    if isinstance(answer, (tuple, dict)):
        return False, ("that looks like the dynamic_shapes argument; pass it to torch.export.export and give the "
                       "program it returns.")
    if not isinstance(answer, torch.export.ExportedProgram):
        return False, f"expected the program torch.export.export returns, got {kind_of(answer)}."
    runnable = answer.module()
    in_features = next(module for module in model.modules() if isinstance(module, nn.Linear)).in_features
    for batch in (1, 7, 64):
        inputs = torch.randn(batch, in_features)
        try:
            with torch.no_grad():
                found = runnable(inputs)
        except Exception as error:  # the program refuses this shape: say which, and why it is fixed
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return False, (f"the program refused a batch of {batch} ({first_line[:120]}). Without dynamic_shapes "
                           "every size is fixed at the example's; mark dimension 0 with "
                           "dynamic_shapes=({0: torch.export.Dim('batch', min=1, max=64)},), min=1 included.")
        with torch.no_grad():
            expected = model(inputs)
        if tuple(found.shape) != tuple(expected.shape) or not torch.allclose(found, expected, atol=1e-5):
            return False, f"on a batch of {batch} the program computes something else than tiny: export tiny itself."
    return True, ""


@exercise_check
def max_difference(answer: object, first: torch.Tensor, second: np.ndarray) -> Verdict:
    """The answer is ``max |first - second|`` as a number."""
    if isinstance(answer, (bool, np.bool_)) or (isinstance(answer, torch.Tensor) and answer.dtype == torch.bool):
        return False, "that is a yes/no comparison (like allclose); the exercise asks for the difference itself."
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "a number")
    second = np.asarray(second, dtype=np.float64)
    differences = second - first.detach().cpu().numpy().astype(np.float64)
    expected = float(np.abs(differences).max())
    # float32 rounds each logit to about 1e-7 of its size: a float32 computation is as right as a float64 one
    tolerance = 4 * float(np.finfo(np.float32).eps) * max(1.0, float(np.abs(second).max()))
    if abs(value - expected) <= tolerance:
        return True, ""
    if abs(value - float(differences.max())) <= tolerance or abs(value - float(differences.min())) <= tolerance:
        return False, "that is the largest signed difference; take the absolute value first (abs(...).max())."
    if abs(value - float(np.abs(differences).min())) <= tolerance:
        return False, "that is the smallest difference; the tolerance is about the worst case: take the max."
    if abs(value - float(np.abs(differences).mean())) <= tolerance:
        return False, "that is the mean; the tolerance is about the worst case, so take the max."
    return False, f"got {value:g}; compute abs(runtime - pytorch).max() over every element."
