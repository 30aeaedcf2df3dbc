"""Execute each notebook once per test session, in the smoke preset, and share the run.

``smoke_run("01_tensors_and_autograd.ipynb")`` gives the lesson's
:class:`~helpers.tools.runner.NotebookRun` (solutions included), ``student_run(name)``
its student edition's: both come from one kernel (see :mod:`helpers.tools.smoke_runs`).

As soon as the tests are collected, the notebooks they ask for start running in
a background thread, several at a time (each kernel is a process of its own),
while the other tests run; the tests that read notebook runs are moved to the
end. The durations are printed at the end of the session.

With pytest-xdist (``make test-pinned`` runs ``pytest -n auto --dist loadfile``),
this folder goes to one worker as a whole (see the root ``conftest.py``), and
the runs start with the first test that worker takes from here, while the other
workers run the rest of the suite.
"""

from __future__ import annotations

import inspect
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers.course import facts
from helpers.tools.runner import NotebookRun
from helpers.tools.smoke_runs import SmokeRun, run_smoke_notebooks

SMOKE_PARAMETERS = {"PRESET": "smoke"}
RUN_FIXTURES = {"smoke_run", "student_run"}
NOTEBOOK_NAME = re.compile(r"\d\d_\w+\.ipynb")


class BackgroundRuns:
    """Smoke runs of some notebooks, executed in a thread from the moment this is made."""

    def __init__(self, names: list[str], out_dir: Path) -> None:
        self.names, self.out_dir = names, out_dir
        self.runs: dict[str, SmokeRun] = {}
        self.error: BaseException | None = None
        self.wall_seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="notebook smoke runs", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self.runs = run_smoke_notebooks([facts.NOTEBOOKS_DIR / name for name in self.names], self.out_dir,
                                            SMOKE_PARAMETERS, jobs=os.cpu_count() or 1)
        except BaseException as exc:  # handed to the test that asks for a run
            self.error = exc
        self.wall_seconds = time.perf_counter() - started

    def result(self) -> dict[str, SmokeRun]:
        """Wait until every run has finished; return them by notebook name."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.runs


_background: list[BackgroundRuns] = []


def uses_notebook_runs(item: pytest.Item) -> bool:
    return bool(RUN_FIXTURES & set(getattr(item, "fixturenames", ())))


def notebooks_named_by(item: pytest.Item) -> set[str]:
    """Return the notebooks a test asks for: its parameters, else the names in its source, else all."""
    known = {path.name for path in facts.notebook_paths()}
    values = getattr(getattr(item, "callspec", None), "params", {}).values()
    named = {Path(str(value)).name for value in values} & known
    if not named and hasattr(item, "function"):
        named = set(NOTEBOOK_NAME.findall(inspect.getsource(item.function))) & known
    return named or known


_requested: set[str] = set()
"""In an xdist worker: the notebooks the selected tests ask for, run from this folder's first test on."""
SUMMARY_TITLE = "notebook smoke runs (lesson and student edition in one kernel each)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that read notebook runs last, so the runs overlap with the other tests."""
    items.sort(key=uses_notebook_runs)


def new_background_runs(names: set[str]) -> None:
    _background.append(BackgroundRuns(sorted(names), Path(tempfile.mkdtemp(prefix="course-smoke-runs-"))))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the smoke runs of every notebook the selected tests ask for (after -k and other filters)."""
    if session.config.option.collectonly:
        return
    names = set()
    for item in session.items:
        if uses_notebook_runs(item):
            names |= notebooks_named_by(item)
    if "PYTEST_XDIST_WORKER" in os.environ:  # every worker collects every test: wait for one from here
        _requested.update(names)
    elif names:
        new_background_runs(names)


def start_requested_runs() -> None:
    if _requested:
        new_background_runs(_requested)
        _requested.clear()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Called for the tests of this folder only: the worker that runs them starts the notebook runs."""
    start_requested_runs()


def smoke_runs_of(name: str) -> SmokeRun:
    """Return the notebook's run: from the background runs, or run now if no selected test named it."""
    start_requested_runs()
    for background in _background:
        if name in background.names:
            return background.result()[name]
    new_background_runs({name})
    return _background[-1].result()[name]


@pytest.fixture(scope="session")
def smoke_run():
    """Return a function: notebook file name -> the lesson's smoke run (with its reference solutions)."""

    def lesson(name: str) -> NotebookRun:
        return smoke_runs_of(name).lesson

    return lesson


@pytest.fixture(scope="session")
def student_run():
    """Return a function: notebook file name -> its student edition's smoke run (solutions stubbed)."""

    def student(name: str) -> NotebookRun:
        return smoke_runs_of(name).student

    return student


def summary_lines() -> list[str]:
    """Return each finished smoke run's duration and verdict, and the wall time of each batch."""
    lines = []
    for background in _background:
        if background.thread.is_alive():
            continue
        for run in background.runs.values():
            status = "passed" if run.lesson.passed and run.student.passed else "FAILED"
            lines.append(f"{run.lesson.seconds:6.1f} s  {status:<7} {run.lesson.notebook}")
        lines.append(f"{background.wall_seconds:6.1f} s  wall for {len(background.runs)} notebooks, "
                     f"{os.cpu_count()} at a time, beside the other tests; in {background.out_dir}")
    return lines


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker, hand the summary to the controller, which prints it."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["notebook_smoke_runs"] = [SUMMARY_TITLE, *summary_lines()]


def pytest_terminal_summary(terminalreporter):
    """Without xdist, print the summary here (the root conftest prints the workers')."""
    lines = summary_lines()
    if lines:
        terminalreporter.section(SUMMARY_TITLE)
        for line in lines:
            terminalreporter.write_line(line)
