"""The headless runner: execute notebooks with papermill, one run per parameter combination.

``python -m helpers run --preset class --out runs/class`` executes every
notebook into ``runs/class/``; :mod:`helpers.tools.report` then writes the report.
Instructors can give several values for a parameter (``-p EPOCHS 1 3 5``) or a
YAML grid file; every combination becomes one run, ``--jobs`` of them at a
time. A run whose executed notebook already exists and finished is skipped
when the same command is run again, and a failing run never stops the others.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import keyword
import math
import os
import re
import reprlib
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR
from helpers.tools.executor import KERNEL_ARGUMENTS, environment_variables

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._=,-]+")
MAX_LABEL_LENGTH = 120
MAX_LITERAL_ITEMS = 10_000
MAX_RUNS = 1_000
"""The most notebook runs one command plans: a grid of 10 axes with 10 values each would be 10 billion."""
COURSE_PARAMETERS = ("PRESET",)
"""Set by ``--preset`` for every notebook; a notebook that does not declare it simply ignores it."""
MAX_JOBS = max(4, 2 * (os.cpu_count() or 1))
"""Each job is a Jupyter kernel with its own PyTorch: more than this only makes them fight over memory."""


class ParameterError(ValueError):
    """A parameter a notebook does not declare, or a value that is not a plain literal."""


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes, e.g. from IPython tracebacks."""
    return ANSI_ESCAPE.sub("", text)


BATCH_CHECKPOINTS = Path("checkpoints")
"""Below ``--out``: one checkpoint folder per parameter combination (``batch`` without a grid), shared by the
notebooks of a batch, so 09 and 10 load the model 08 trained instead of training it again."""


@dataclass(frozen=True)
class RunTask:
    """One notebook to execute, with its parameters and where the executed copy goes.

    ``checkpoints`` is the kernel's checkpoint folder (``None``: beside the output);
    ``staged``, when given, is where the notebook is executed before it is moved onto ``output``.
    """

    notebook: Path
    output: Path
    parameters: dict[str, Any]
    checkpoints: Path | None = None
    staged: Path | None = None


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


def _short_hash(combination: dict[str, Any]) -> str:
    text = json.dumps(combination, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def combination_label(combination: dict[str, Any]) -> str:
    """Return a file-name-safe label such as ``EPOCHS=3,SEED=0`` (empty for no combination).

    Example:
        >>> combination_label({"EPOCHS": 3, "TAG": "a/b"})
        'EPOCHS=3,TAG=a_b'
    """
    text = ",".join(f"{name}={value}" for name, value in combination.items())
    label = UNSAFE_FILE_CHARACTERS.sub("_", text)
    if len(label) > MAX_LABEL_LENGTH:  # file systems refuse names over 255 bytes
        label = f"{label[:MAX_LABEL_LENGTH]}-{_short_hash(combination)}"
    return label


def unique_labels(combinations: list[dict[str, Any]]) -> list[str]:
    """Return one label per combination; labels that would clash get a short hash of their values.

    Clashes ignore case, as macOS and Windows file systems do.

    Example:
        >>> unique_labels([{"TAG": "a/b"}, {"TAG": "a:b"}])
        ['TAG=a_b-920664e5', 'TAG=a_b-a9f899cb']
    """
    labels = [combination_label(combination) for combination in combinations]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label.casefold()] = counts.get(label.casefold(), 0) + 1
    return [f"{label}-{_short_hash(combination)}" if counts[label.casefold()] > 1 else label
            for label, combination in zip(labels, combinations)]


def declared_parameters(notebook: Path) -> list[str]:
    """Return the names assigned in the notebook's cell tagged ``parameters``.

    Example:
        >>> declared_parameters(Path("notebooks/06_the_training_loop.ipynb"))[:2]  # doctest: +SKIP
        ['PRESET', 'EPOCHS']
    """
    import nbformat

    from helpers.tools.executor import cell_statements

    cells = [c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    names: list[str] = []
    for cell in cells:
        for statement in cell_statements(cell.source, f"The parameters cell of {notebook.name}"):
            targets = statement.targets if isinstance(statement, ast.Assign) else (
                [statement.target] if isinstance(statement, ast.AnnAssign) else [])
            names += [target.id for target in targets if isinstance(target, ast.Name)]
    return list(dict.fromkeys(names))


def is_literal(value: Any, max_items: int = MAX_LITERAL_ITEMS) -> bool:
    """Whether ``value`` is None, a bool, int, finite float or str, or a list or dict of them.

    At most ``max_items`` values in all: a YAML file can alias one list inside
    another until a few lines stand for billions of values.

    Example:
        >>> is_literal([1, 2.5, "x", None]), is_literal(float("nan"))
        (True, False)
    """
    pending, seen = [value], 0
    while pending:
        item = pending.pop()
        seen += 1
        if seen > max_items:
            return False
        if isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif not (item is None or isinstance(item, (bool, int, str))):
            return False
    return True


def check_parameters(declared: dict[str, list[str]], parameters: dict[str, Any]) -> None:
    """Raise :class:`ParameterError` unless every name is declared by a notebook and every value a literal.

    ``declared`` maps each notebook's name to the names its ``parameters`` cell
    assigns. papermill writes the names into Python source, so a name must be a
    plain identifier one of the notebooks assigns: anything else could run code
    or would be silently ignored. Values must be literals (:func:`is_literal`).

    Example:
        >>> check_parameters({"06.ipynb": ["PRESET", "EPOCHS"]}, {"EPOCHS": 3})
    """
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ParameterError(f"{name!r} is not a parameter name: names are Python identifiers such as "
                                 f"EPOCHS. {_declared_text(declared)}")
        if name not in COURSE_PARAMETERS and not any(name in names for names in declared.values()):
            where = f"{next(iter(declared))} has" if len(declared) == 1 else "none of the notebooks run has"
            raise ParameterError(f"{where} no parameter {name}. {_declared_text(declared)} Check the spelling "
                                 "(names are case-sensitive).")
        if not is_literal(value):
            raise ParameterError(f"the value of {name} ({reprlib.repr(value)}, a {type(value).__name__}) is not a "
                                 "plain literal: use a number, true/false, null, a string (quote dates: "
                                 f"'2024-01-01') or a list or mapping of them, {MAX_LITERAL_ITEMS:,} values at most.")


def _declared_text(declared: dict[str, list[str]]) -> str:
    shown = [f"{notebook} declares {', '.join(names) or 'none'}." for notebook, names in list(declared.items())[:3]]
    return " ".join(shown) + (f" (and {len(declared) - 3} more notebooks)" if len(declared) > 3 else "")


def plan_tasks(notebooks: list[Path], out_dir: Path, fixed: dict[str, Any],
               grid: dict[str, list[Any]]) -> list[RunTask]:
    """Return one task per notebook and grid combination, after checking every parameter.

    Each notebook gets the parameters its ``parameters`` cell declares (and
    ``PRESET``); a grid axis it does not declare does not multiply its runs.
    Without a grid, ``out_dir/NN_name.ipynb``; with one,
    ``out_dir/NN_name/EPOCHS=3,SEED=0.ipynb`` for each combination.

    Raises:
        ParameterError: a name no notebook declares, a value that is no literal, an empty axis, too many runs.
        ValueError: two different notebooks with the same name.
    """
    for name, values in grid.items():
        if not values:
            raise ParameterError(f"the grid axis {name} has no values: give at least one, e.g. {name}: [1, 3].")
    notebooks = list(dict.fromkeys(Path(notebook).resolve() for notebook in notebooks))
    stems = [notebook.stem for notebook in notebooks]
    clashing = sorted({stem for stem in stems if stems.count(stem) > 1})
    if clashing:
        raise ValueError(f"several notebooks are named {', '.join(clashing)}: their runs would overwrite each "
                         "other in the output folder. Run them one folder at a time.")
    declared = {notebook.name: declared_parameters(notebook) for notebook in notebooks}
    own_grids = {notebook: {name: values for name, values in grid.items() if name in declared[notebook.name]}
                 for notebook in notebooks}
    runs = sum(math.prod(len(values) for values in own.values()) for own in own_grids.values())
    if runs > MAX_RUNS:
        raise ParameterError(f"this grid asks for {runs:,} notebook runs; at most {MAX_RUNS:,} are planned at once. "
                             "Use fewer values per parameter, or split the grid over several commands.")
    check_parameters(declared, {**fixed, **grid})  # before any label is made from the values
    tasks = []
    for notebook in notebooks:
        own_fixed = {name: value for name, value in fixed.items()
                     if name in declared[notebook.name] or name in COURSE_PARAMETERS}
        combinations = expand_grid(own_grids[notebook]) if own_grids[notebook] else [{}]
        for combination, label in zip(combinations, unique_labels(combinations)):
            output = out_dir / notebook.stem / f"{label}.ipynb" if label else out_dir / notebook.name
            checkpoints = out_dir / BATCH_CHECKPOINTS / (label or "batch")
            tasks.append(RunTask(notebook, output, {**own_fixed, **combination}, checkpoints))
    return tasks


def check_jobs(jobs: int) -> int:
    """Return ``jobs`` if it is a whole number from 1 to :data:`MAX_JOBS`, else raise ``ValueError``.

    Example:
        >>> check_jobs(2)
        2
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be a whole number from 1 to {MAX_JOBS} (each job is a Jupyter kernel), "
                         f"got {jobs!r}.")
    return jobs


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

    from helpers.course.records import read_records
    from helpers.tools.executor import code_hash

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
                 progress_bar: bool = False, checkpoints: Path | None = None) -> NotebookRun:
    """Execute ``notebook`` into ``output`` with papermill, in the notebook's folder.

    The kernel keeps its checkpoints in ``COURSE_CHECKPOINT_DIR`` when that is
    set, else in ``checkpoints``, else beside ``output``. Never raises for a
    failing notebook: the failure is in the returned :class:`NotebookRun`, and
    the partly executed notebook is still written.
    """
    import nbformat
    import papermill

    from helpers.course.records import read_records

    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    failed_cell, error = "", ""
    # Unless told otherwise, each run keeps its checkpoints beside its output, so a run
    # resumes its own training when repeated and never a learner's.
    folder = os.environ.get(CHECKPOINT_DIR_ENV_VAR) or str(checkpoints or f"{output.with_suffix('')}_checkpoints")
    with environment_variables({CHECKPOINT_DIR_ENV_VAR: folder}):
        try:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                       kernel_name="python3", cwd=str(notebook.parent),
                                       progress_bar=progress_bar, log_output=False,
                                       extra_arguments=KERNEL_ARGUMENTS)
        except Exception as exc:  # any failure is reported, never lost
            failed_cell, error = _error_of(exc)
    seconds = time.perf_counter() - started
    records = read_records(nbformat.read(output, as_version=4)) if output.exists() else {}
    return NotebookRun(notebook.name, str(output), parameters, passed=not error,
                       seconds=seconds, records=records, failed_cell=failed_cell, error=error)


def _run_task(task: RunTask) -> NotebookRun:
    reused = finished_run(task)
    if reused is not None:
        return reused
    run = run_notebook(task.notebook, task.staged or task.output, task.parameters, checkpoints=task.checkpoints)
    run.output = str(task.output)  # where it goes once moved out of the staging folder
    return run


def threads_per_job(jobs: int, cpus: int | None = None) -> dict[str, str]:
    """Return the environment variable that gives each of ``jobs`` kernels its share of the cores.

    PyTorch starts one thread per core in every process. Two kernels at once on two
    cores then run four threads, which spin while they wait for each other: here the
    smoke runs took 128 s instead of 84 s, one notebook 36 s instead of 12. Callers
    let a thread count already in the environment win.

    Example:
        >>> threads_per_job(2, cpus=2)
        {'OMP_NUM_THREADS': '1'}
    """
    return {"OMP_NUM_THREADS": str(max(1, (cpus or os.cpu_count() or 1) // jobs))}


def run_tasks(tasks: list[RunTask], jobs: int = 1, cluster: str | None = None) -> list[NotebookRun]:
    """Execute the tasks, ``jobs`` at a time (or on the Dask cluster at ``cluster``), reusing finished ones.

    Returns the runs in task order. On a cluster, the workers must see the same files (a shared file system).
    """
    from helpers.tools.backend import task_executor

    jobs = min(check_jobs(jobs), max(1, len(tasks)))
    if jobs == 1 and cluster is None:
        return [_run_task(task) for task in tqdm(tasks, desc="notebooks", unit="nb")]
    results: dict[str, NotebookRun] = {}
    unset = {name: value for name, value in threads_per_job(jobs).items() if name not in os.environ}
    with environment_variables(unset), task_executor(jobs, cluster) as pool:
        futures = [pool.submit(_run_task, task) for task in tasks]
        for future in tqdm(as_completed(futures), total=len(futures), desc="notebooks", unit="nb"):
            run = future.result()
            results[run.output] = run
    return [results[str(task.output)] for task in tasks]


def run_notebooks(notebooks: list[Path], out_dir: Path, parameters: dict[str, Any],
                  jobs: int = 1) -> list[NotebookRun]:
    """Execute each notebook once with ``parameters`` into ``out_dir``; return the runs in order."""
    return run_tasks(plan_tasks(notebooks, out_dir, parameters, {}), jobs)
