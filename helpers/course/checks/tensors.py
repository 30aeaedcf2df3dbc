"""Checks for the exercises of notebook 01, tensors and autograd."""

from __future__ import annotations

import torch

from helpers.course.checks import Verdict, exercise_check


def _tensor_problem(answer: object, expected: torch.Tensor) -> str:
    """Return what is wrong with ``answer`` compared with ``expected``, or ``""``."""
    if not isinstance(answer, torch.Tensor):
        return f"expected a torch.Tensor, got a {type(answer).__name__}."
    if answer.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(answer.shape)}."
    if not torch.allclose(answer.detach().cpu().to(expected.dtype), expected):
        return "the shape is right but some values are not."
    return ""


@exercise_check
def matrix_product(answer: object, a: torch.Tensor, b: torch.Tensor) -> Verdict:
    """The answer is the matrix product of ``a`` (n, k) and ``b`` (k, m)."""
    problem = _tensor_problem(answer, a @ b)
    if problem:
        problem += " `@` is the matrix product; `*` multiplies element by element."
    return not problem, problem


@exercise_check
def broadcast_add(answer: object, matrix: torch.Tensor, row: torch.Tensor) -> Verdict:
    """The answer adds ``row`` (m,) to every row of ``matrix`` (n, m)."""
    problem = _tensor_problem(answer, matrix + row)
    if problem and isinstance(answer, torch.Tensor) and answer.shape != matrix.shape:
        problem += " Adding a (m,) vector to an (n, m) matrix keeps the shape (n, m)."
    return not problem, problem


@exercise_check
def cubic_gradient(answer: object) -> Verdict:
    """The answer is dy/dx of y = x**3 + 2x at x = 2, i.e. 3 * 2**2 + 2 = 14."""
    value = float(answer.item() if isinstance(answer, torch.Tensor) else answer)
    if abs(value - 14.0) < 1e-5:
        return True, ""
    if abs(value - 12.0) < 1e-5:
        return False, "that is y itself (2**3 + 2*2); you want the gradient: call y.backward() and read x.grad."
    return False, f"got {value:g}; make x with requires_grad=True, compute y, call y.backward(), read x.grad."
