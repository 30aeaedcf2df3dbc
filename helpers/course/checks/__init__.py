"""Exercise checks: one module per notebook topic, all built on :func:`exercise_check`.

A check prints a clear pass or a hint and never raises, so a notebook with
unanswered exercises still runs to the end. It also records its verdict as
``exercise:<name>``, so the tests can see that every reference solution passes.
A hint names the mistake in plain words; an answer of the wrong kind is told
what was expected.

Example:
    >>> from helpers.course.checks import tensors as check
    >>> check.product_shape((16, 10))  # doctest: +SKIP
    ✅ product_shape: correct!
    >>> check.product_shape.judge("16, 10")  # the verdict alone, for tests  # doctest: +SKIP
    (False, 'you gave the text "16, 10": give the shape itself, a tuple such as (2, 3), without quotes.')
"""

from __future__ import annotations

import functools
import numbers
from typing import Callable

import numpy as np
import torch

from helpers.course.records import record

Verdict = tuple[bool, str]
"""What a check's body returns: whether the answer is right, and a hint when it is not."""

UNANSWERED_HINT = "replace the `None` (or the `...`) with your answer and run the cell again."


def kind_of(value: object) -> str:
    """Describe ``value`` for a hint: ``'None'``, ``'the text "6"'``, ``'a list'``...

    Example:
        >>> kind_of("6"), kind_of(None), kind_of([1])
        ('the text "6"', 'None', 'a list')
    """
    if value is None:
        return "None"
    if isinstance(value, str):
        return f'the text "{value}"'
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    name = type(value).__name__
    return f"an {name}" if name[0].lower() in "aeiou" else f"a {name}"


def as_number(value: object) -> float | None:
    """Return ``value`` as a float when it is a number (Python, NumPy or a one-element tensor), else None.

    Example:
        >>> as_number(torch.tensor(0.5)), as_number("6"), as_number(True)
        (0.5, None, None)
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        return float(value.detach().item())
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.item())
    return None


def number_problem(value: object, what: str = "a number") -> str:
    """Return a hint when ``value`` is not a number, else ``""``.

    Example:
        >>> number_problem("6")
        'you gave the text "6": give the number itself, without quotes.'
    """
    if as_number(value) is not None:
        return ""
    if isinstance(value, str):
        return f'you gave the text "{value}": give the number itself, without quotes.'
    return f"expected {what}, got {kind_of(value)}."


def shape_kind_problem(answer: object) -> str:
    """Return a hint when ``answer`` is not a shape (a tuple, list or torch.Size of whole numbers), else ``""``.

    Example:
        >>> shape_kind_problem([2, 3]), shape_kind_problem("2, 3")[:27]
        ('', 'you gave the text "2, 3": g')
    """
    if isinstance(answer, str):
        return f'you gave the text "{answer}": give the shape itself, a tuple such as (2, 3), without quotes.'
    if isinstance(answer, torch.Tensor):
        return "that is a tensor; the answer is its shape, a tuple such as (2, 3) (tensor.shape gives it)."
    if as_number(answer) is not None:
        return f"a shape is a tuple with one number per dimension, such as ({int(as_number(answer))},) or (2, 3)."
    if not isinstance(answer, (tuple, list)) or not all(isinstance(size, numbers.Integral) for size in answer):
        return f"expected a shape, a tuple of whole numbers such as (2, 3); got {kind_of(answer)}."
    return ""


def call_learner_function(function: Callable, *args: object) -> tuple[object, str]:
    """Call the learner's ``function``; return its result and ``""``, or None and what went wrong."""
    try:
        return function(*args), ""
    except Exception as error:  # the learner's code can fail in any way; say how, in their words
        return None, f"your function stopped with {type(error).__name__}: {str(error).rstrip('.')}"


def judge(body: Callable[..., Verdict], answer: object, *args: object, **kwargs: object) -> Verdict:
    """Return ``body``'s verdict on ``answer``, turning a missing answer or a failure into a hint."""
    if answer is None or answer is Ellipsis:
        return False, UNANSWERED_HINT
    try:
        return body(answer, *args, **kwargs)
    except Exception as error:  # a learner's answer can be anything; never crash their notebook
        return False, (f"your answer ({kind_of(answer)}) is not what this exercise asks for: using it failed "
                       f"with {type(error).__name__}: {error}. Read the exercise again for the kind of answer.")


def show_verdict(name: str, verdict: Verdict) -> None:
    """Print a pass or a hint for exercise ``name`` and record whether it passed."""
    passed, hint = verdict
    text = f"✅ {name}: correct!" if passed else f"❌ {name}: not yet. Hint: {hint}"
    record(f"exercise:{name}", passed, text=text)


def exercise_check(body: Callable[..., Verdict]) -> Callable[..., None]:
    """Turn ``body(answer, ...) -> (passed, hint)`` into a check that prints and never raises.

    The check's ``judge`` attribute returns the verdict without printing.
    """

    @functools.wraps(body)
    def check(answer: object, *args: object, **kwargs: object) -> None:
        show_verdict(body.__name__, judge(body, answer, *args, **kwargs))

    check.judge = functools.partial(judge, body)  # type: ignore[attr-defined]
    return check
