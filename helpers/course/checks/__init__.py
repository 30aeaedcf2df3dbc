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
import importlib
import numbers
import pkgutil
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np
import torch

from helpers.course.records import record

if TYPE_CHECKING:  # for the type checker only: plain Python may have no IPython
    from IPython.core.interactiveshell import InteractiveShell

Returned = TypeVar("Returned")  # what the function given to call_learner_function returns

Verdict = tuple[bool, str]
"""What a check's body returns: whether the answer is right, and a hint when it is not."""


class CheckResult(NamedTuple):
    """A check's structured verdict: which exercise, whether it passed, and the hint when it did not.

    Example:
        >>> CheckResult("product_shape", False, "expected a shape")
        CheckResult(exercise='product_shape', passed=False, hint='expected a shape')
    """

    exercise: str
    passed: bool
    hint: str


UNANSWERED_HINT = "replace the `None` (or the `...`) with your answer and run the cell again."

SECONDS_ALLOWED = 20.0
"""How long a check lets the learner's code run before it stops it (a check may allow more)."""

_REGISTRY: dict[str, Callable[..., None]] = {}


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


def as_number_list(value: object) -> list[float] | None:
    """Return ``value`` as a list of floats when it is a flat sequence of numbers, else None.

    A flat sequence is a list, a tuple, or a one-dimensional array or tensor.

    Example:
        >>> as_number_list(np.array([0.1, 0.05])), as_number_list(torch.tensor([1, 2])), as_number_list("12")
        ([0.1, 0.05], [1.0, 2.0], None)
    """
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if value.ndim != 1:
            return None
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return None
    numbers_found = []
    for item in value:
        number = as_number(item)
        if number is None:
            return None
        numbers_found.append(number)
    return numbers_found


def close_at_given_precision(value: float, expected: float) -> bool:
    """Whether ``value`` is ``expected``, allowing the rounding of the decimals it was written with (two at least).

    Example:
        >>> close_at_given_precision(0.868, 59 / 68), close_at_given_precision(0.87, 59 / 68)
        (True, True)
        >>> close_at_given_precision(0.9, 59 / 68), close_at_given_precision(0.8676, 59 / 68)
        (False, True)
    """
    written = repr(float(value))
    decimals = len(written.split(".")[1]) if "." in written and "e" not in written else 16
    return abs(value - expected) <= max(0.5 * 10 ** -max(decimals, 2), 1e-4 * abs(expected))


def plain_words(text: str) -> list[str]:
    """Return the words of ``text`` in lower case, punctuation and underscores turned into spaces.

    Example:
        >>> plain_words("The lowest val. loss!"), plain_words("torch.jit.script")
        (['the', 'lowest', 'val', 'loss'], ['torch', 'jit', 'script'])
    """
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).split()


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


def as_shape(value: object) -> tuple[int, ...] | None:
    """Return ``value`` as a tuple when it is a shape (a tuple, list or torch.Size of whole numbers), else None.

    Example:
        >>> as_shape([2, 3]), as_shape(torch.Size([4])), as_shape("2, 3"), as_shape((2.5, 3))
        ((2, 3), (4,), None, None)
    """
    if isinstance(value, (tuple, list)) and all(isinstance(size, numbers.Integral) for size in value):
        return tuple(value)
    return None


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
    number = as_number(answer)
    if number is not None:
        return f"a shape is a tuple with one number per dimension, such as ({int(number)},) or (2, 3)."
    if as_shape(answer) is None:
        return f"expected a shape, a tuple of whole numbers such as (2, 3); got {kind_of(answer)}."
    return ""


def changed_in_place(answer: torch.Tensor, data: torch.Tensor) -> bool:
    """Whether ``answer`` is ``data`` itself, changed in place (``data -= ...``): it then no longer shows the original.

    Example:
        >>> data = torch.ones(3)
        >>> changed_in_place(data.mul_(2), data), changed_in_place(data * 2, data)
        (True, False)
    """
    return answer.device.type != "meta" and answer.untyped_storage().data_ptr() == data.untyped_storage().data_ptr()


def call_learner_function(function: Callable[..., Returned], *args: object) -> tuple[Returned | None, str]:
    """Call the learner's ``function``; return its result and ``""``, or None and what went wrong."""
    try:
        return function(*args), ""
    except Exception as error:  # the learner's code can fail in any way; say how, in their words
        return None, f"your function stopped with {type(error).__name__}: {str(error).rstrip('.')}"


class CheckTimeout(BaseException):
    """Raised inside the learner's code when a check's time is up.

    It is a BaseException, so the learner's `except Exception` lets it by.
    """


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Stop the code inside after ``seconds`` with :class:`CheckTimeout`, where the platform allows it.

    It uses a timer signal, so it works on Linux and macOS (Colab and Kaggle included) on the main
    thread, where notebook cells run. Elsewhere (Windows, another thread) the code runs without a limit.

    Example:
        >>> with time_limit(5):
        ...     sum(range(10))
        45
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise CheckTimeout

    previous_handler = signal.signal(signal.SIGALRM, stop)
    # An interval too: if the learner's code swallows the first stop (a bare `except:`), the next one comes.
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)


def timeout_hint(seconds: float) -> str:
    """The hint for code that ran past the check's time limit."""
    return (f"your code was still running after {seconds:g} s, so the check stopped it. Look for a loop that "
            "never ends (a `while` whose condition never changes, or training until the loss is exactly 0) "
            "and give it a fixed number of steps.")


INTERRUPTED_HINT = ("the check was interrupted before it finished. Run it again; if it seems to hang, look for a "
                    "loop in your code that never ends.")


def judge(body: Callable[..., Verdict], answer: object, *args: object, **kwargs: object) -> Verdict:
    """Return ``body``'s verdict on ``answer``, turning a missing answer, a failure or a hang into a hint."""
    if answer is None or answer is Ellipsis:
        return False, UNANSWERED_HINT
    seconds = getattr(body, "seconds_allowed", SECONDS_ALLOWED)
    try:
        with time_limit(seconds):
            return body(answer, *args, **kwargs)
    except CheckTimeout:
        return False, timeout_hint(seconds)
    except KeyboardInterrupt:
        return False, INTERRUPTED_HINT
    except Exception as error:  # a learner's answer can be anything; never crash their notebook
        return False, (f"your answer ({kind_of(answer)}) is not what this exercise asks for: using it failed "
                       f"with {type(error).__name__}: {error}. Read the exercise again for the kind of answer.")


def show_verdict(name: str, verdict: Verdict) -> None:
    """Print a pass or a hint for exercise ``name`` and record whether it passed."""
    passed, hint = verdict
    text = f"✅ {name}: correct!" if passed else f"❌ {name}: not yet. Hint: {hint}"
    record(f"exercise:{name}", passed, text=text)


def exercise_check(body: Callable[..., Verdict] | None = None, *,
                   seconds: float = SECONDS_ALLOWED) -> Callable[..., None]:
    """Turn ``body(answer, ...) -> (passed, hint)`` into a check that prints and never raises.

    The learner's code gets ``seconds`` to run (``@exercise_check(seconds=60)`` for a check that trains).
    The check's ``judge`` attribute returns the verdict without printing, ``result`` returns it as a
    :class:`CheckResult`, and :func:`registry` lists every check by ``module.name``.

    Example:
        >>> @exercise_check
        ... def is_six(answer):
        ...     return answer == 6, "count again."
        >>> is_six.result(5)
        CheckResult(exercise='is_six', passed=False, hint='count again.')
    """
    if body is None:  # called as @exercise_check(seconds=...): give the decorator that takes the body
        return functools.partial(exercise_check, seconds=seconds)  # type: ignore[return-value]  # a decorator, not a check
    body.seconds_allowed = seconds  # type: ignore[attr-defined]  # mypy does not follow attributes set on a function
    verdict_of = functools.partial(judge, body)

    @functools.wraps(body)
    def check(answer: object, *args: object, **kwargs: object) -> None:
        show_verdict(body.__name__, verdict_of(answer, *args, **kwargs))

    def result(answer: object, *args: object, **kwargs: object) -> CheckResult:
        passed, hint = verdict_of(answer, *args, **kwargs)
        return CheckResult(body.__name__, bool(passed), "" if passed else hint)

    # Attributes on the function: the grading kernel finds them in the check's __dict__.
    check.judge = verdict_of  # type: ignore[attr-defined]  # as body.seconds_allowed above
    check.result = result  # type: ignore[attr-defined]  # as body.seconds_allowed above
    _REGISTRY[f"{body.__module__.rsplit('.', 1)[-1]}.{body.__name__}"] = check
    return check


def registry() -> dict[str, Callable[..., None]]:
    """Return every exercise check of the course, by ``module.name`` (``"tensors.product_shape"``).

    Example:
        >>> "tensors.product_shape" in registry()
        True
    """
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(_REGISTRY)


def missing_answer_hint(name: str) -> str:
    """What a check cell says when its answer variable ``name`` does not exist.

    Example:
        >>> print(missing_answer_hint("answer_shape")[:60])
        ❌ `answer_shape` does not exist yet: your answer cell raised
    """
    return (f"❌ `{name}` does not exist yet: your answer cell raised an error before it set `{name}`, or has not "
            "been run. Fix the error shown under your answer cell, run it again, then run this check.")


def _show_missing_answer(shell: InteractiveShell, error_type: type, error: BaseException, traceback: object,
                         tb_offset: int | None = None) -> None:
    """IPython's handler for a NameError: a missing ``answer_...`` gets a plain sentence instead of a traceback."""
    name = getattr(error, "name", None)  # the missing name (Python 3.10 and newer)
    if isinstance(name, str) and name.startswith("answer"):
        print(missing_answer_hint(name))
    else:  # any other NameError is shown as IPython always shows it
        shell.showtraceback((error_type, error, traceback), tb_offset=tb_offset)


def _install_missing_answer_hint() -> None:
    """In a notebook, turn the NameError of a check cell whose answer cell failed into a plain sentence."""
    try:
        import IPython
    except ImportError:  # plain Python: no notebook, nothing to install
        return
    shell = IPython.get_ipython()
    if shell is not None and not shell.custom_exceptions:
        shell.set_custom_exc((NameError,), _show_missing_answer)


_install_missing_answer_hint()
