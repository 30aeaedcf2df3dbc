"""Checks for the exercises of notebook 10, deployment."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, as_number, exercise_check, kind_of, number_problem, plain_words


@exercise_check
def keeps_control_flow(answer: object) -> Verdict:
    """The answer is ``"script"``: scripting compiles the ``if``, tracing freezes the branch it saw."""
    if answer is torch.jit.script or answer is torch.jit.trace:
        answer = answer.__name__
    if not isinstance(answer, str):
        return False, f"answer with the text \"trace\" or \"script\"; got {kind_of(answer)}."
    words = [word for word in plain_words(answer) if word not in ("torch", "jit", "use", "with", "by", "i", "would")]
    choice = " ".join(words)
    if choice in ("script", "scripting", "scripted"):
        return True, ""
    if choice in ("trace", "tracing", "traced"):
        return False, "tracing records the branch the example input took; look at the traced Gate's wrong answer."
    return False, f"got {answer!r}; answer \"trace\" or \"script\"."


@exercise_check
def exported_program(answer: object, model: nn.Module, inputs: torch.Tensor) -> Verdict:
    """The answer is ``torch.export.export(model, (inputs,))`` (or its ``.module()``), computing what ``model`` does."""
    if isinstance(answer, torch.Tensor):
        return False, ("that is an output tensor; give the exported program itself, "
                       "torch.export.export(tiny, (tiny_input,)), and the check runs it.")
    if answer is model:
        return False, "that is the eager model itself, not exported: call torch.export.export(tiny, (tiny_input,))."
    if isinstance(answer, torch.jit.ScriptModule):
        return False, "that is TorchScript (torch.jit), the older way; the exercise asks for torch.export.export."
    if type(answer).__name__ == "OptimizedModule":
        return False, ("torch.compile speeds the model up inside this process but makes nothing to save or ship; "
                       "use torch.export.export.")
    if isinstance(answer, torch.export.ExportedProgram):
        runnable = answer.module()
    elif isinstance(answer, torch.fx.GraphModule):
        runnable = answer
    else:
        return False, f"expected the program torch.export.export returns, got {kind_of(answer)}."
    with torch.no_grad():
        expected, found = model(inputs), runnable(inputs)
    if isinstance(found, (tuple, list)):
        found = found[0]
    if tuple(found.shape) != tuple(expected.shape) or not torch.allclose(found, expected, atol=1e-5):
        return False, "the program computes something else than tiny: export tiny itself, with (tiny_input,) as example."
    return True, ""


@exercise_check
def max_difference(answer: object, first: torch.Tensor, second: np.ndarray) -> Verdict:
    """The answer is ``max |first - second|`` as a number."""
    if isinstance(answer, (bool, np.bool_)) or (isinstance(answer, torch.Tensor) and answer.dtype == torch.bool):
        return False, "that is a yes/no comparison (like allclose); the exercise asks for the difference itself."
    problem = number_problem(answer, "a number")
    if problem:
        return False, problem
    value = as_number(answer)
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


@exercise_check
def dynamic_batch(answer: object) -> Verdict:
    """The answer is ``({0: torch.export.Dim("batch", min=1, max=64)},)``."""
    if isinstance(answer, dict) and set(answer) == {0}:
        return False, "wrap the dict in a tuple, one entry per input of forward: ({0: ...},)."
    if not isinstance(answer, (tuple, list)) or len(answer) != 1 or not isinstance(answer[0], dict):
        return False, "expected a tuple with one dict, like ({0: torch.export.Dim(...)},)."
    spec = answer[0]
    if set(spec) != {0}:
        return False, f"the dict's keys are dimensions; the batch is dimension 0, got {sorted(spec)}."
    dim = spec[0]
    if isinstance(dim, int):
        return False, "that fixes dimension 0 to one number; map it to torch.export.Dim(\"batch\", min=1, max=64)."
    bounds = (getattr(dim, "min", None), getattr(dim, "max", None))
    if bounds == (None, None):
        return False, "map dimension 0 to torch.export.Dim(\"batch\", min=1, max=64)."
    if bounds != (1, 64):
        return False, f"the batch dimension's bounds are {bounds}; the exercise asks for 1 to 64."
    model = nn.Linear(4, 2).eval()
    program = torch.export.export(model, (torch.randn(3, 4),), dynamic_shapes=tuple(answer))
    for batch in (1, 64):
        program.module()(torch.randn(batch, 4))
    return True, ""
