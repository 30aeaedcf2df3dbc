"""One execution per notebook for the test suite: lesson, reference solutions and student edition.

The suite used to execute every notebook three times: nbval compared outputs,
papermill recorded figures, and the student edition ran again. Here each
notebook runs once, in the smoke preset, in one kernel:

1. the cells the lesson and its student edition share (everything before the
   first solution), once;
2. the student edition's cells from there on (stubs and their checks): they
   see exactly the state a student's kernel has;
3. the lesson's own cells from there on (solutions and checks), as a learner
   who filled in the stubs and ran the exercises again.

The executed lesson (1 + 3) and student edition (1 + 2) are written as two
notebooks. :func:`run_smoke_notebooks` runs several notebooks at a time, each
kernel a process of its own driven from this one; :func:`output_differences`
compares the cells marked for nbval (tag ``nbval-check-output`` or the comment
``# NBVAL_CHECK_OUTPUT``) with the committed outputs the way nbval does.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR
from helpers.course.records import read_records
from helpers.tools.runner import NotebookRun, strip_ansi, threads_per_job
from helpers.tools.student_edition import write_student_edition
from helpers.tools.warm_kernels import WarmKernels, available

CELL_TIMEOUT_S = 300
STUDENT_ID_SUFFIX = "-student"
NOT_COMPARED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
"""Output fields nbval leaves out of its comparison (images too, unless nbdime is on)."""


@dataclass
class SmokeRun:
    """One notebook's shared execution: the lesson with its solutions, and its student edition."""

    lesson: NotebookRun
    student: NotebookRun


def first_differing_cell(lesson: nbformat.NotebookNode, student: nbformat.NotebookNode) -> int:
    """Return the index of the first code cell whose source differs (the first solution, usually).

    Markdown cells change no state: the student edition's own badges at the top do not count.

    Example:
        >>> cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("b = 2")]
        >>> stubbed = [cells[0], nbformat.v4.new_code_cell("b = None")]
        >>> first_differing_cell(nbformat.v4.new_notebook(cells=cells), nbformat.v4.new_notebook(cells=stubbed))
        1
    """
    if len(lesson.cells) != len(student.cells):
        raise ValueError(f"the student edition has {len(student.cells)} cells, the lesson {len(lesson.cells)}")
    pairs = zip(lesson.cells, student.cells)
    return next((i for i, (a, b) in enumerate(pairs) if a.cell_type == "code" and a.source != b.source),
                len(lesson.cells))


def combined_notebook(lesson: nbformat.NotebookNode, student: nbformat.NotebookNode,
                      parameters: dict[str, Any]) -> tuple[nbformat.NotebookNode, int, int]:
    """Return the notebook to execute (shared cells, student cells, lesson cells) and where parts 2 and 3 start.

    ``parameters`` are injected after the cell tagged ``parameters``, as papermill does.
    """
    from papermill.parameterize import parameterize_notebook

    split = first_differing_cell(lesson, student)
    student_part = copy.deepcopy(student.cells[split:])
    for cell in student_part:  # cell ids must stay unique in one notebook
        cell.id = (cell.id + STUDENT_ID_SUFFIX)[-64:]
    combined = copy.deepcopy(lesson)
    combined.cells = combined.cells[:split] + student_part + combined.cells[split:]
    combined.metadata.setdefault("papermill", {})  # what papermill's loader adds and its injection expects
    for cell in combined.cells:
        cell.metadata.setdefault("tags", [])
    combined = parameterize_notebook(combined, parameters, report_mode=False)
    shared = split + (len(combined.cells) - len(lesson.cells) - len(student_part))
    return combined, shared, shared + len(student_part)


def _error_text(exc: Exception) -> str:
    from nbclient.exceptions import CellExecutionError

    if isinstance(exc, CellExecutionError):
        return f"{exc.ename}: {strip_ansi(exc.evalue)}\n{strip_ansi(str(exc))[-3000:]}"
    return f"{type(exc).__name__}: {strip_ansi(str(exc))}"


async def _execute_parts(notebook: nbformat.NotebookNode, starts: list[int], cwd: Path, env: dict[str, str],
                         kernels: WarmKernels | None) -> list[tuple[str, str]]:
    """Execute ``notebook`` in one kernel, part by part; return (failed cell, error) for each part.

    The kernel is forked by ``kernels``, or an ordinary one when it is ``None``.
    A part stops at its first error; the next part still runs. A failure in the
    first part fails them all, since the others build on it.
    """
    from nbclient import NotebookClient

    # Every cell has finished and its outputs are in when the kernel goes: it is stopped at once, as Jupyter
    # stops a kernel that does not answer (with its process group), not given its 2 s to shut down.
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", shutdown_kernel="immediate",
                            km=kernels.kernel_manager() if kernels else None)
    ends = starts[1:] + [len(notebook.cells)]
    failures = [("", "")] * len(starts)
    async with client.async_setup_kernel(cwd=str(cwd), env=env, cleanup_kc=True):  # shut down, even when forked
        for part, (start, end) in enumerate(zip(starts, ends)):
            for index in range(start, end):
                try:
                    await client.async_execute_cell(notebook.cells[index], index)
                except Exception as exc:  # the failure is reported with its cell, never lost
                    failures[part] = (notebook.cells[index].source, _error_text(exc))
                    break
            if part == 0 and failures[0][1]:
                return [failures[0]] * len(starts)
    return failures


def _part_notebook(executed: nbformat.NotebookNode, cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    part = copy.deepcopy(executed)
    part.cells = copy.deepcopy(cells)
    for cell in part.cells:
        if cell.id.endswith(STUDENT_ID_SUFFIX):
            cell.id = cell.id[: -len(STUDENT_ID_SUFFIX)]
    return part


async def run_smoke_notebook(lesson_path: Path, student_path: Path, out_dir: Path, parameters: dict[str, Any],
                             environment: dict[str, str], kernels: WarmKernels | None = None) -> SmokeRun:
    """Execute a lesson and its student edition in one kernel; write both executed notebooks to ``out_dir``.

    The kernel gets ``environment``, with a checkpoint folder of its own: a run never resumes another's training.
    It is forked by ``kernels`` (:mod:`~helpers.tools.warm_kernels`), or an ordinary kernel when that is ``None``.
    """
    lesson = nbformat.read(lesson_path, as_version=4)
    student = nbformat.read(student_path, as_version=4)
    notebook, student_start, lesson_start = combined_notebook(lesson, student, parameters)
    env = {**environment, CHECKPOINT_DIR_ENV_VAR: str(out_dir / f"{lesson_path.stem}_checkpoints")}
    started = time.perf_counter()
    try:
        failures = await _execute_parts(notebook, [0, student_start, lesson_start], lesson_path.parent, env,
                                        kernels)
    except Exception as exc:  # a kernel that dies or never starts fails both runs, with its reason
        failures = [("", _error_text(exc))] * 3
    seconds = time.perf_counter() - started
    shared, student_cells, lesson_cells = (notebook.cells[:student_start], notebook.cells[student_start:lesson_start],
                                          notebook.cells[lesson_start:])
    runs = []
    for name, cells, (failed_cell, error) in (("lesson", lesson_cells, failures[2]),
                                              ("student", student_cells, failures[1])):
        executed = _part_notebook(notebook, shared + cells)
        output = out_dir / name / lesson_path.name
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, output)
        runs.append(NotebookRun(lesson_path.name, str(output), parameters, passed=not error, seconds=seconds,
                                records=read_records(executed), failed_cell=failed_cell, error=error))
    return SmokeRun(lesson=runs[0], student=runs[1])


def run_smoke_notebooks(notebooks: list[Path], out_dir: Path, parameters: dict[str, Any],
                        jobs: int = 2, warm: bool = True) -> dict[str, SmokeRun]:
    """Execute each notebook once (lesson and student edition), ``jobs`` at a time; return runs by file name.

    The kernels get the environment variables as they are when this is called, and
    their share of the cores (:func:`~helpers.tools.runner.threads_per_job`). With
    ``warm`` (and on Linux), they are forked from one process that imported torch
    once (:mod:`~helpers.tools.warm_kernels`), instead of each importing it.

    Example:
        >>> runs = run_smoke_notebooks(notebook_paths(), Path("/tmp/smoke"), {"PRESET": "smoke"})  # doctest: +SKIP
        >>> runs["01_tensors_and_autograd.ipynb"].lesson.records["fitted_slope"]  # doctest: +SKIP
        2.98
    """
    environment = {**threads_per_job(jobs), **os.environ}

    async def run_all(kernels: WarmKernels | None) -> list[SmokeRun]:
        students = write_student_edition(notebooks, out_dir / "student_edition")
        slots = asyncio.Semaphore(jobs)

        async def run_one(lesson_path: Path, student_path: Path) -> SmokeRun:
            async with slots:
                return await run_smoke_notebook(lesson_path, student_path, out_dir, parameters, environment, kernels)

        return await asyncio.gather(*(run_one(n, s) for n, s in zip(notebooks, students)))

    if warm and available():
        with WarmKernels(environment) as kernels:
            runs = asyncio.run(run_all(kernels))
    else:
        runs = asyncio.run(run_all(None))
    return {run.lesson.notebook: run for run in runs}


def _outputs_by_field(outputs: list[Any]) -> dict[str, list[Any]]:
    """Return a cell's outputs as nbval compares them: streams merged, then values listed by field."""
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    by_field: dict[str, list[Any]] = defaultdict(list)
    for output in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
        for key, value in output.items():
            if key == "data":
                for mime, item in value.items():
                    if mime not in NOT_COMPARED:
                        by_field[mime].append(item)
            elif key not in NOT_COMPARED:
                by_field[key].append(value)
    return by_field


def _field_diff(key: str, committed: list[Any], now: list[Any]) -> str:
    """Return a unified diff of one output field's values, committed against new."""
    before = "\n".join(map(str, committed)).splitlines()
    after = "\n".join(map(str, now)).splitlines()
    return "\n".join(difflib.unified_diff(before, after, f"committed {key}", f"now {key}", lineterm=""))


def compared_by_nbval(cell: nbformat.NotebookNode) -> bool:
    """Return whether ``nbval --nbval-lax`` compares this cell's outputs (tag or comment marker)."""
    from nbval.plugin import find_comment_markers, find_metadata_tags

    options = dict(find_metadata_tags(cell.metadata))
    options.update(find_comment_markers(cell.source))
    return (cell.cell_type == "code" and bool(options.get("check")) and not options.get("skip")
            and cell.get("execution_count") is not None)


def output_differences(committed: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> list[str]:
    """Return one message per compared cell whose new outputs differ from the committed ones.

    Cells are matched by id; a compared cell that did not run counts as different.
    """
    executed_cells = {cell.id: cell for cell in executed.cells}
    differences = []
    for number, cell in enumerate(c for c in committed.cells if c.cell_type == "code"):
        if not compared_by_nbval(cell):
            continue
        ran = executed_cells.get(cell.id)
        expected = _outputs_by_field(cell.outputs)
        found = _outputs_by_field(ran.outputs) if ran is not None and ran.get("execution_count") else None
        if found == expected:
            continue
        if found is None:
            detail = "it did not run"
        else:
            detail = "\n".join(_field_diff(key, expected.get(key, []), found.get(key, []))
                               for key in sorted(set(expected) | set(found)) if expected.get(key) != found.get(key))
        differences.append(f"code cell {number} ({cell.source.splitlines()[0][:60]!r}): {detail}")
    return differences
