"""Checks for the exercises of notebook 01, tensors and autograd."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from helpers.course.checks import (
    Verdict,
    as_number,
    as_shape,
    call_learner_function,
    changed_in_place,
    exercise_check,
    kind_of,
    shape_kind_problem,
)


@exercise_check
def product_shape(answer: object) -> Verdict:
    """The answer is the shape of ``images.reshape(16, -1) @ weights.T``: (16, 784) @ (784, 10) is (16, 10)."""
    shape = as_shape(answer)
    if shape is None:
        return False, shape_kind_problem(answer)
    if shape == (16, 10):
        return True, ""
    if shape == (10, 16):
        return False, "the rows of the result come from the left matrix (16 images), the columns from the right."
    if shape in ((16, 784), (784, 10), (10, 784)):
        return False, ("that is the shape of one of the two factors; (n, k) @ (k, m) gives (n, m): "
                       "the shared 784 disappears.")
    if shape == (16, 28, 28):
        return False, "reshape(16, -1) flattens each 28 x 28 image into 784 numbers before the product."
    return False, f"got {shape}; (n, k) @ (k, m) gives (n, m), and weights.T is (784, 10)."


EXERCISE_MARKS = torch.tensor([[60.0, 72, 90], [75, 80, 85], [50, 64, 70], [90, 88, 95], [65, 71, 80]])
"""Notebook 01's ``marks``: what an answer that centred them in place (``marks -= ...``) is judged against."""


@exercise_check
def centred_columns(answer: object, scores: torch.Tensor) -> Verdict:
    """The answer is ``scores`` minus each column's mean: ``scores - scores.mean(dim=0)``.

    An answer computed in place changed ``scores`` itself, so it is judged against the notebook's marks.
    """
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a tensor shaped like scores {tuple(scores.shape)}, got {kind_of(answer)}."
    if changed_in_place(answer, scores) and scores.shape == EXERCISE_MARKS.shape:
        scores = EXERCISE_MARKS
    if tuple(answer.shape) != tuple(scores.shape):
        return False, (f"expected shape {tuple(scores.shape)} like scores, got {tuple(answer.shape)}: subtract "
                       "the means from scores, which broadcasting spreads over every row.")
    found = answer.detach().cpu().double()
    if torch.allclose(found, (scores - scores.mean(dim=0)).double(), atol=1e-5):
        return True, ""
    if torch.allclose(found, (scores - scores.mean()).double(), atol=1e-5):
        return False, "that subtracts one mean of all the numbers; each column needs its own: scores.mean(dim=0)."
    if torch.allclose(found, (scores - scores.mean(dim=1, keepdim=True)).double(), atol=1e-5):
        return False, "that centres each row (dim=1); the columns' means come from dim=0, across the rows."
    if torch.allclose(found.mean(dim=0), torch.zeros(scores.shape[1], dtype=torch.float64), atol=1e-5):
        return False, "every column has mean 0 but the values changed otherwise: only subtract the means."
    return False, "subtract scores.mean(dim=0) (one mean per column, shape (3,)) from scores."


DERIVATIVE_CASES: tuple[tuple[str, Callable[[torch.Tensor], torch.Tensor], float, float], ...] = (
    ("x**3 + 2*x", lambda x: x**3 + 2 * x, 2.0, 14.0),
    ("torch.sin(x)", torch.sin, 1.0, math.cos(1.0)),
    ("x * torch.exp(x)", lambda x: x * torch.exp(x), -0.5, math.exp(-0.5) * 0.5),
    ("torch.sqrt(x**2 + 1)", lambda x: torch.sqrt(x**2 + 1), 0.75, 0.75 / math.sqrt(1.5625)),
)
"""(how the check names it, the function, x, its slope at x): the exercise's function and three it never showed."""


def _close(found: float, expected: float, tolerance: float = 1e-4) -> bool:
    """Whether ``found`` is ``expected`` up to ``tolerance`` (relative above 1)."""
    return abs(found - expected) <= tolerance * max(1.0, abs(expected))


def _slope_problem(slope: object, case: str, x: float, value_there: float, expected: float) -> str:
    """Return a hint when ``slope`` is not the slope ``expected`` of ``case`` at ``x``, else ``""``."""
    if slope is None:
        return (f"for {case} your function returned None: return the gradient after backward(), which autograd "
                "stores in the .grad of the tensor that requires grad.")
    found = as_number(slope)
    if found is None:
        return f"for {case} your function returned {kind_of(slope)}; return the gradient, one number."
    if _close(found, expected, 1e-5):  # autograd in float32 is exact to about 1e-7
        return ""
    if _close(found, value_there):
        return (f"for {case} you returned the value of f at {x:g}, {found:.4g}, not its slope: call backward() and "
                "return the gradient.")
    if _close(found, 14.0) or _close(found, 3 * x**2 + 2):
        return (f"for {case} you returned the slope of x**3 + 2*x ({found:g}): a slope worked out by hand fits one "
                "function only. Build the tensor, call f on it and let autograd compute the slope.")
    if _close(found, expected, 1e-2):
        return (f"for {case} you got {found:.6g}, close to the slope {expected:.6g} but not exact: that looks like a "
                "finite difference (f(x + h) - f(x)) / h. Autograd gives the exact slope: use backward().")
    ratio = found / expected if expected else 0.0
    if ratio > 1.5 and abs(ratio - round(ratio)) < 1e-3:
        return (f"for {case} you got {round(ratio)} times the slope: gradients added up over several backward() "
                "calls on the same tensor. Make a new tensor from x inside the function, every time.")
    return f"for {case} at x = {x:g} the slope is {expected:.6g}; your function returned {found:.6g}."


@exercise_check
def derivative(answer: object) -> Verdict:
    """The answer is a function ``derivative(f, x)`` returning the slope of ``f`` at the float ``x``, by autograd.

    It is called on y = x**3 + 2x at 2 (slope 14), then on functions the notebook never showed, so a
    slope typed in or worked out by hand for one function fails.
    """
    if not callable(answer):
        return False, (f"expected your function derivative itself (answer_derivative = derivative, no brackets); "
                       f"got {kind_of(answer)}.")
    for case, function, x, expected in DERIVATIVE_CASES:
        slope, problem = call_learner_function(answer, function, x)
        if problem:
            if "does not require grad" in problem:
                return False, (f"{problem}. Autograd tracks only tensors made with requires_grad=True: "
                               "torch.tensor(x, requires_grad=True).")
            return False, f"{problem} (called as derivative(f, {x}) for f = {case})."
        value_there = float(function(torch.tensor(x)))
        problem = _slope_problem(slope, case, x, value_there, expected)
        if problem:
            return False, problem
    return True, ""
