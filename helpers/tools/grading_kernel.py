"""The grader's side of a graded kernel: checks captured before any student code runs, and signed verdicts.

``python -m helpers grade`` runs a student's answer cells inside the instructor's
own copy of the notebook. Its first cell calls :func:`start_guard`, which reads a
one-time key the grader left in the kernel's folder (and deletes it), imports
every check and keeps them. A cell just before the first answer cell calls
:func:`seal`, which fingerprints the modules the checks rely on (the course's own,
torch, NumPy, the built-ins...). Every check cell is replaced by a call to
:func:`judge`, which compares the fingerprint again, runs the check it captured
and displays the verdict signed with the key. The grader reads only signed
verdicts, and only from its own cells: a forged record, a redefined ``print``
or a replaced check gives nothing it accepts, and a patched module is named in
the verdict and scores 0.

This is tamper evidence, not isolation: Python cannot hide one part of a process
from another, so a student who studies this module could still find the key in
memory. The grade command's report says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

GRADE_MIME_TYPE = "application/vnd.pytorch-course.grade+json"
KEY_FILE_NAME = ".grade-key"
WATCHED_MODULES = ("helpers", "torch", "numpy", "builtins", "functools", "signal", "math", "numbers", "re",
                   "operator", "copy", "contextlib", "threading", "json", "hmac", "hashlib", "types", "PIL",
                   "torchvision")
"""Module families whose functions and classes a check may call: replacing one of them counts as tampering."""
IGNORED_BUILTINS = frozenset({"_", "__", "___", "input", "raw_input"})
"""Built-ins the kernel itself rebinds for every cell (the last results, input forwarded to the notebook)."""

_state: dict[str, Any] = {}


def _is_watched(module_name: str) -> bool:
    return module_name.split(".", 1)[0] in WATCHED_MODULES


def _function_parts(function: types.FunctionType) -> tuple[int, ...]:
    """Identities of what a Python function runs: its code, defaults and closure contents."""
    cells = []
    for cell in function.__closure__ or ():
        try:
            cells.append(id(cell.cell_contents))
        except ValueError:  # a closure cell not filled yet
            cells.append(0)
    return (id(function.__code__), id(function.__defaults__), id(function.__kwdefaults__), *cells)


def _object_parts(value: object, course_code: bool) -> tuple[int, ...]:
    """The identities that make up ``value`` as a check sees it (more of them for the course's own code)."""
    if isinstance(value, types.FunctionType):
        parts = _function_parts(value)
        if course_code:  # a check's .judge and .result live in its __dict__
            parts += tuple(id(item) for item in vars(value).values())
        return parts
    if course_code and isinstance(value, dict):  # a module's table, such as the guard's own
        return (len(value), *(id(item) for item in list(value.values())))
    return ()


def fingerprint() -> dict[str, tuple[int, ...]]:
    """Return the identity of every function, class and module the watched modules hold, by dotted name.

    Example:
        >>> len(fingerprint()) > 100
        True
    """
    prints: dict[str, tuple[int, ...]] = {}
    with warnings.catch_warnings():  # reading a deprecated alias (torch.distributed.reduce_op) warns
        warnings.simplefilter("ignore")
        for module_name, module in list(sys.modules.items()):
            if _is_watched(module_name) and isinstance(module, types.ModuleType):
                _fingerprint_module(module_name, module, prints)
    return prints


def _fingerprint_module(module_name: str, module: types.ModuleType, prints: dict[str, tuple[int, ...]]) -> None:
    """Add the identities of ``module``'s functions, classes and submodules to ``prints``."""
    prints[f"sys.modules[{module_name}]"] = (id(module), id(module.__dict__))
    course_code = module_name.startswith("helpers.")
    for name, value in list(vars(module).items()):
        if (module_name == "builtins" and name in IGNORED_BUILTINS) or name == "__builtins__":
            continue  # every module's __builtins__ is the built-ins' own table, watched as the module builtins
        if not (course_code or callable(value) or isinstance(value, types.ModuleType)):
            continue  # the course's own constants count too: a check's expected value is one
        prints[f"{module_name}.{name}"] = (id(value), *_object_parts(value, course_code))
        family = module_name.split(".", 1)[0]
        if isinstance(value, type) and getattr(value, "__module__", "").split(".", 1)[0] == family:
            _fingerprint_class(value, prints)


def _fingerprint_class(cls: type, prints: dict[str, tuple[int, ...]]) -> None:
    """Add the identities of a class's methods to ``prints``, once, under the class's own dotted name."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    if f"{name}.__dict__" in prints:
        return
    # A method added to a class shadows the one it inherits: for classes, new names count too.
    prints[f"{name}.__dict__"] = (len(vars(cls)),)
    for attribute, member in list(vars(cls).items()):
        if callable(member) or isinstance(member, (classmethod, staticmethod, property)):
            prints[f"{name}.{attribute}"] = (id(member), *_object_parts(member, False))

def changed_since(before: dict[str, tuple[int, ...]], now: dict[str, tuple[int, ...]]) -> list[str]:
    """Return the names whose identity changed or that disappeared (new names are fine: lazy imports add them).

    Example:
        >>> changed_since({"torch.equal": (1,), "torch.add": (2,)}, {"torch.equal": (3,), "torch.add": (2,), "x": (4,)})
        ['torch.equal']
    """
    return sorted(name for name, parts in before.items() if now.get(name) != parts)


def signature(key: bytes, payload: str) -> str:
    """Return the HMAC-SHA256 of ``payload`` under ``key``, as hex.

    Example:
        >>> signature(b"key", "{}")[:12]
        'a777724d943e'
    """
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def captured_checks() -> dict[str, Callable[..., Any]]:
    """Return every check's ``result`` by the name a notebook calls it, ``module.name`` (re-exported ones too).

    Example:
        >>> captured_checks()["tensors.product_shape"]((16, 10))
        CheckResult(exercise='product_shape', passed=True, hint='')
    """
    import importlib
    import pkgutil

    from helpers.course import checks

    results = {}
    for module_info in pkgutil.iter_modules(checks.__path__):
        module = importlib.import_module(f"{checks.__name__}.{module_info.name}")
        for name, value in vars(module).items():
            if callable(getattr(value, "result", None)) and callable(getattr(value, "judge", None)):
                results[f"{module_info.name}.{name}"] = value.result
    return results


def start_guard(folder: str = ".") -> None:
    """Read and delete the grader's key in ``folder``, import every check and keep them, before any student code.

    The key, the checks and the fingerprint live only in the closures made here,
    not in module variables an answer cell could reach by name.
    """
    from IPython.display import display

    key_file = Path(folder) / KEY_FILE_NAME
    key = key_file.read_bytes()
    key_file.unlink()
    results = captured_checks()
    sealed: dict[str, tuple[int, ...]] = {}
    sequence = [0]

    def publish(payload: dict[str, Any]) -> None:
        sequence[0] += 1
        text = json.dumps({**payload, "sequence": sequence[0]}, sort_keys=True)
        display({"text/plain": f"graded {payload['check']}", GRADE_MIME_TYPE: {"payload": text,
                 "signature": signature(key, text)}}, raw=True)

    def seal_once() -> None:
        if not sealed:  # a second call (from an answer cell) must not accept what was patched since
            sealed.update(fingerprint())

    def tampering() -> list[str]:
        return changed_since(sealed, fingerprint()) if sealed else []

    def judge_captured(check_name: str, arguments: Callable[[], tuple[tuple, dict]]) -> None:
        try:
            args, kwargs = arguments()
        except NameError as error:
            publish({"check": check_name, "passed": False, "tampered": [],
                     "hint": f"`{getattr(error, 'name', 'the answer')}` was never set: the answer cell raised an "
                             "error or was left out. Run it, fix what it reports, and submit again."})
            return
        tampered = tampering()
        if not tampered:
            result = results[check_name](*args, **kwargs)
            tampered = tampering()  # learner code the check called may have patched something too
            if not tampered:
                publish({"check": check_name, "passed": bool(result.passed), "hint": str(result.hint),
                         "tampered": []})
                return
        publish({"check": check_name, "passed": False, "tampered": tampered[:10],
                 "hint": "the course's checks or the libraries they use were changed by the submission's code "
                         f"({', '.join(tampered[:3])}); graded 0."})

    _state.update(seal=seal_once, judge=judge_captured)


def seal() -> None:
    """Fingerprint the modules the checks use: called by the grader just before the first answer cell runs."""
    _state["seal"]()


def judge(check_name: str, arguments: Callable[[], tuple[tuple, dict]]) -> None:
    """Judge one exercise with the check captured at the start, and display the signed verdict.

    ``arguments`` returns the check's arguments (the answer first); it is a
    function so that a missing answer (its cell raised) becomes a verdict too.
    """
    _state["judge"](check_name, arguments)
