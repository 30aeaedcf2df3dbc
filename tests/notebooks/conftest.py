"""Execute each notebook once per test session, in the smoke preset, and share the run.

``smoke_run("01_tensors_and_autograd.ipynb")`` gives the lesson's
:class:`~helpers.runner.NotebookRun` (solutions included), ``student_run(name)``
its student edition's: both come from one kernel (see :mod:`helpers.smoke_runs`).
The first request executes every notebook the session's tests ask for, several
at a time; later requests only read. The durations are printed at the end.
"""

from __future__ import annotations

import inspect
import os
import re
import time
from pathlib import Path

import pytest

from helpers import course
from helpers.runner import NotebookRun
from helpers.smoke_runs import SmokeRun, run_smoke_notebooks

SMOKE_PARAMETERS = {"PRESET": "smoke"}
RUN_FIXTURES = {"smoke_run", "student_run"}
NOTEBOOK_NAME = re.compile(r"\d\d_\w+\.ipynb")

_runs: dict[str, SmokeRun] = {}
_planned: set[str] = set()
_wall_seconds: list[float] = []


def notebooks_named_by(item: pytest.Item) -> set[str]:
    """Return the notebooks a test asks for: its parameters, else the names in its source, else all."""
    known = {path.name for path in course.notebook_paths()}
    values = getattr(getattr(item, "callspec", None), "params", {}).values()
    named = {Path(str(value)).name for value in values} & known
    if not named and hasattr(item, "function"):
        named = set(NOTEBOOK_NAME.findall(inspect.getsource(item.function))) & known
    return named or known


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:  # the tests that will run, after -k and other filters
        if RUN_FIXTURES & set(getattr(item, "fixturenames", ())):
            _planned.update(notebooks_named_by(item))


@pytest.fixture(scope="session")
def _smoke_runs(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("smoke")

    def run(name: str) -> SmokeRun:
        if name not in _runs:
            pending = sorted((_planned | {name}) - set(_runs))
            started = time.perf_counter()
            _runs.update(run_smoke_notebooks([course.NOTEBOOKS_DIR / n for n in pending], out_dir,
                                             SMOKE_PARAMETERS, jobs=os.cpu_count() or 1))
            _wall_seconds.append(time.perf_counter() - started)
        return _runs[name]

    return run


@pytest.fixture(scope="session")
def smoke_run(_smoke_runs):
    """Return a function: notebook file name -> the lesson's smoke run (with its reference solutions)."""

    def lesson(name: str) -> NotebookRun:
        return _smoke_runs(name).lesson

    return lesson


@pytest.fixture(scope="session")
def student_run(_smoke_runs):
    """Return a function: notebook file name -> its student edition's smoke run (solutions stubbed)."""

    def student(name: str) -> NotebookRun:
        return _smoke_runs(name).student

    return student


def pytest_terminal_summary(terminalreporter):
    if not _runs:
        return
    terminalreporter.section("notebook smoke runs (lesson and student edition in one kernel each)")
    for run in _runs.values():
        status = "passed" if run.lesson.passed and run.student.passed else "FAILED"
        terminalreporter.write_line(f"{run.lesson.seconds:6.1f} s  {status:<7} {run.lesson.notebook}")
    terminalreporter.write_line(f"{sum(r.lesson.seconds for r in _runs.values()):6.1f} s  summed")
    terminalreporter.write_line(f"{sum(_wall_seconds):6.1f} s  wall, {os.cpu_count()} at a time")
