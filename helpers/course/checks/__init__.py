"""Exercise checks: one module per notebook topic, all built on :func:`exercise_check`.

A check prints a clear pass or a hint and never raises, so a notebook with
unanswered exercises still runs to the end. It also records its verdict as
``exercise:<name>``, so the tests can see that every reference solution passes.

Example:
    >>> from helpers.course.checks import tensors as check
    >>> check.matrix_product(A @ B, A, B)  # doctest: +SKIP
    ✅ matrix_product: correct!
    >>> check.matrix_product.judge(A * 2, A, B)  # the verdict alone, for tests  # doctest: +SKIP
    (False, 'expected shape (2, 4), got (2, 3). ...')
"""

from __future__ import annotations

import functools
from typing import Callable

from helpers.course.records import record

Verdict = tuple[bool, str]
"""What a check's body returns: whether the answer is right, and a hint when it is not."""

UNANSWERED_HINT = "replace the `None` (or the `...`) with your answer and run the cell again."


def judge(body: Callable[..., Verdict], answer: object, *args: object, **kwargs: object) -> Verdict:
    """Return ``body``'s verdict on ``answer``, turning a missing answer or an exception into a hint."""
    if answer is None or answer is Ellipsis:
        return False, UNANSWERED_HINT
    try:
        return body(answer, *args, **kwargs)
    except Exception as exc:  # a learner's answer can be anything; never crash their notebook
        return False, f"checking your answer raised {type(exc).__name__}: {exc}"


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
