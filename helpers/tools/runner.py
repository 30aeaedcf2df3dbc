"""The headless runner: execute notebooks with papermill, one run per parameter combination.

``python -m helpers run --preset class --out runs/class`` executes every
notebook into ``runs/class/``; :mod:`helpers.tools.report` then writes the report.
Instructors can give several values for a parameter (``-p EPOCHS 1 3 5``) or a
YAML grid file; every combination becomes one run, ``--jobs`` of them at a
time. A run whose executed notebook already exists and finished is skipped
when the same command is run again, and a failing run never stops the others.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

from tqdm.auto import tqdm

from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._=,-]+")


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes, e.g. from IPython tracebacks."""
    return ANSI_ESCAPE.sub("", text)


@dataclass(frozen=True)
class RunTask:
    """One notebook to execute, with its parameters and where the executed copy goes."""

    notebook: Path
    output: Path
    parameters: dict[str, Any]


@dataclass
class NotebookRun:
    """What happened when one notebook was executed."""

    notebook: str
    output: str
    parameters: dict[str, Any]
    passed: bool
    seconds: float
    records: dict[str, Any] = field(default_factory=dict)
    failed_cell: str = ""
    error: str = ""
    skipped: bool = False
    """True when an earlier run's finished notebook was reused."""

    def failure_text(self) -> str:
        """Return the failing cell's source and the exception, as plain text."""
        return f"--- failing cell ---\n{self.failed_cell}\n--- error ---\n{self.error}"


def expand_grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Return every combination of the values in ``grid``, in a stable order.

    Example:
        >>> expand_grid({"EPOCHS": [1, 3], "SEED": [0]})
        [{'EPOCHS': 1, 'SEED': 0}, {'EPOCHS': 3, 'SEED': 0}]
    """
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def combination_label(combination: dict[str, Any]) -> str:
    """Return a file-name-safe label such as ``EPOCHS=3,SEED=0`` (empty for no combination)."""
    text = ",".join(f"{name}={value}" for name, value in combination.items())
    return UNSAFE_FILE_CHARACTERS.sub("_", text)


def plan_tasks(notebooks: list[Path], out_dir: Path, fixed: dict[str, Any],
               grid: dict[str, list[Any]]) -> list[RunTask]:
    """Return one task per notebook and grid combination.

    Without a grid, ``out_dir/NN_name.ipynb``; with one,
    ``out_dir/NN_name/EPOCHS=3,SEED=0.ipynb`` for each combination.
    """
    combinations = expand_grid(grid) if grid else [{}]
    tasks = []
    for notebook in notebooks:
        for combination in combinations:
            label = combination_label(combination)
            output = out_dir / notebook.stem / f"{label}.ipynb" if label else out_dir / notebook.name
            tasks.append(RunTask(notebook, output, {**fixed, **combination}))
    return tasks


def _error_of(exc: Exception) -> tuple[str, str]:
    """Return (failing cell source, plain-text error) for a papermill failure."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        trace = strip_ansi("\n".join(exc.traceback[-6:]))
        return exc.source, f"{exc.ename}: {strip_ansi(exc.evalue)}\n{trace}"
    return "", f"{type(exc).__name__}: {strip_ansi(str(exc))}"


def finished_run(task: RunTask) -> NotebookRun | None:
    """Return the run recorded in ``task.output`` if it can be reused, else ``None``.

    It can when it finished without error, with the same parameters, from a
    notebook whose code has not changed since.
    """
    import nbformat

    from helpers.tools.executor import code_hash
    from helpers.course.records import read_records

    if not task.output.exists():
        return None
    try:
        executed = nbformat.read(task.output, as_version=4)
    except Exception:  # a half-written notebook from an interrupted run is simply run again
        return None
    papermill = executed.metadata.get("papermill", {})
    if papermill.get("exception") or papermill.get("parameters") != task.parameters or not papermill.get("end_time"):
        return None
    executed.cells = [c for c in executed.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if code_hash(executed) != code_hash(nbformat.read(task.notebook, as_version=4)):
        return None
    return NotebookRun(task.notebook.name, str(task.output), task.parameters, passed=True,
                       seconds=float(papermill.get("duration") or 0.0), records=read_records(executed),
                       skipped=True)


def run_notebook(notebook: Path, output: Path, parameters: dict[str, Any],
                 progress_bar: bool = False) -> NotebookRun:
    """Execute ``notebook`` into ``output`` with papermill, in the notebook's folder.

    Never raises for a failing notebook: the failure is in the returned
    :class:`NotebookRun`, and the partly executed notebook is still written.
    """
    import nbformat
    import papermill

    from helpers.course.records import read_records

    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    failed_cell, error = "", ""
    # Unless told otherwise, each run keeps its checkpoints beside its output, so a run
    # resumes its own training when repeated and never a learner's.
    checkpoints = os.environ.get(CHECKPOINT_DIR_ENV_VAR, str(output.with_suffix("")) + "_checkpoints")
    with patch.dict(os.environ, {CHECKPOINT_DIR_ENV_VAR: checkpoints}):
        try:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                       kernel_name="python3", cwd=str(notebook.parent),
                                       progress_bar=progress_bar, log_output=False)
        except Exception as exc:  # any failure is reported, never lost
            failed_cell, error = _error_of(exc)
    seconds = time.perf_counter() - started
    records = read_records(nbformat.read(output, as_version=4)) if output.exists() else {}
    return NotebookRun(notebook.name, str(output), parameters, passed=not error,
                       seconds=seconds, records=records, failed_cell=failed_cell, error=error)


def _run_task(task: RunTask) -> NotebookRun:
    return finished_run(task) or run_notebook(task.notebook, task.output, task.parameters)


def run_tasks(tasks: list[RunTask], jobs: int = 1) -> list[NotebookRun]:
    """Execute the tasks, ``jobs`` at a time, reusing finished ones; return runs in task order."""
    if jobs <= 1:
        return [_run_task(task) for task in tqdm(tasks, desc="notebooks", unit="nb")]
    results: dict[str, NotebookRun] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_task, task) for task in tasks]
        for future in tqdm(as_completed(futures), total=len(futures), desc="notebooks", unit="nb"):
            run = future.result()
            results[run.output] = run
    return [results[str(task.output)] for task in tasks]


def run_notebooks(notebooks: list[Path], out_dir: Path, parameters: dict[str, Any],
                  jobs: int = 1) -> list[NotebookRun]:
    """Execute each notebook once with ``parameters`` into ``out_dir``; return the runs in order."""
    return run_tasks(plan_tasks(notebooks, out_dir, parameters, {}), jobs)
