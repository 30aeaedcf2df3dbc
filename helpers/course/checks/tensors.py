"""Checks for the exercises of notebook 01, tensors and autograd."""

from __future__ import annotations

import torch

from helpers.course.checks import Verdict, as_number, exercise_check, kind_of, shape_kind_problem


@exercise_check
def product_shape(answer: object) -> Verdict:
    """The answer is the shape of ``images.reshape(16, -1) @ weights.T``: (16, 784) @ (784, 10) is (16, 10)."""
    problem = shape_kind_problem(answer)
    if problem:
        return False, problem
    shape = tuple(answer)
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


@exercise_check
def centred_columns(answer: object, scores: torch.Tensor) -> Verdict:
    """The answer is ``scores`` minus each column's mean: ``scores - scores.mean(dim=0)``."""
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a tensor shaped like scores {tuple(scores.shape)}, got {kind_of(answer)}."
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


@exercise_check
def cubic_gradient(answer: object, x: torch.Tensor) -> Verdict:
    """The answer is dy/dx of y = x**3 + 2x at x = 2, i.e. 14, computed by autograd into ``x.grad``.

    ``x`` is the notebook's ``x_exercise``: a number typed by hand leaves its ``.grad`` empty.
    ``torch.autograd.grad(y, x)`` is accepted too (it returns the gradient instead of storing it).
    """
    if isinstance(answer, (tuple, list)) and len(answer) == 1 and isinstance(answer[0], torch.Tensor):
        answer = answer[0]  # what torch.autograd.grad(y, x) returns
    value = as_number(answer)
    if value is None:
        return False, f"expected the gradient, x_exercise.grad (a tensor holding one number); got {kind_of(answer)}."
    stored = None if x.grad is None else float(x.grad)
    if not isinstance(answer, torch.Tensor) and stored is None:
        return False, ("x_exercise.grad is still empty, so this number was not computed by autograd: compute "
                       "y from x_exercise, call y.backward() and answer x_exercise.grad.")
    if abs(value - 14.0) < 1e-4:
        return True, ""
    if abs(value - 12.0) < 1e-4:
        return False, "that is y itself (2**3 + 2*2); you want the gradient: call y.backward() and read x.grad."
    if value > 14.0 and abs(value / 14.0 - round(value / 14.0)) < 1e-4:
        return False, (f"{value:g} is {round(value / 14.0)} x 14: backward ran more than once and the gradients "
                       "added up. Run the cell that makes x_exercise again (or set x_exercise.grad = None) first.")
    return False, f"got {value:g}; make y = x_exercise**3 + 2 * x_exercise, call y.backward(), read x_exercise.grad."
