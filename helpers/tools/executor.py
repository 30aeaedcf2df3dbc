"""Re-execute the course notebooks in place, so their committed outputs are true.

``python -m helpers execute`` runs each notebook top to bottom in the ``class``
preset, refreshes its badge and setup cells from :mod:`helpers.course`, and
stamps it with a hash of its code cells. A test recomputes the hash: a notebook
whose code changed without re-execution fails it. Notebooks are written exactly
as JupyterLab 4 saves them, so opening and saving one in JupyterLab changes nothing.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import nbformat

from helpers.course import facts
from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR
from helpers.course.presets import PRESET_ENV_VAR
from helpers.safe_files import write_atomically

STAMP_KEY = "pytorch_course"
JUPYTERLAB_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
"""The kernelspec JupyterLab 4 writes for ipykernel's ``python3`` kernel."""
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
"""Keeps the kernel's start-up notice ("running over TCP without encryption") out of every run's output.

The kernel listens on 127.0.0.1 only; its errors still show, and a cell's own warnings are outputs anyway.
"""
LARGEST_PLAIN_JAVASCRIPT_NUMBER = 1e21  # from here on, JavaScript writes numbers as 1e+21


@contextlib.contextmanager
def environment_variables(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the ``with`` block, then put each back as it was (or remove it).

    A kernel started inside the block inherits them. Only the variables named are
    restored: a change the block makes to another one stays.

    Example:
        >>> with environment_variables({"COURSE_EXAMPLE": "1"}):
        ...     os.environ["COURSE_EXAMPLE"]
        '1'
        >>> "COURSE_EXAMPLE" in os.environ
        False
    """
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def code_hash(notebook: nbformat.NotebookNode) -> str:
    """Return the SHA-256 of a notebook's code cells, in order (outputs excluded).

    Example:
        >>> code_hash(nbformat.v4.new_notebook())[:12]
        'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    for index, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        if index:
            digest.update(b"\0")
        digest.update(cell.source.encode("utf-8"))
    return digest.hexdigest()


def cell_with_tag(notebook: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode | None:
    """Return the first cell tagged ``tag``, or ``None``."""
    return next((c for c in notebook.cells if tag in c.metadata.get("tags", [])), None)


def refresh_generated_cells(notebook: nbformat.NotebookNode, notebook_name: str,
                            ref: str = facts.PINNED_REF) -> None:
    """Rewrite the badge line and the setup cell from :mod:`helpers.course.facts`, for the release ``ref``.

    The badge line is the last line of the cell tagged ``badges``; the setup
    cell is the one tagged ``setup``.
    """
    badges = cell_with_tag(notebook, "badges")
    if badges is not None:
        lines = badges.source.rstrip("\n").split("\n")
        lines[-1] = facts.badges_markdown(notebook_name, ref)
        badges.source = "\n".join(lines)
    setup = cell_with_tag(notebook, "setup")
    if setup is not None:
        setup.source = facts.setup_cell_source(ref)


def clean_metadata(notebook: nbformat.NotebookNode) -> None:
    """Drop metadata that changes on every run or names the person who ran it."""
    for key in ("papermill", "widgets", "colab", "accelerator"):
        notebook.metadata.pop(key, None)
    notebook.metadata["kernelspec"] = dict(JUPYTERLAB_KERNELSPEC)
    for cell in notebook.cells:
        for key in ("execution", "papermill", "executionInfo", "outputId", "colab"):
            cell.metadata.pop(key, None)


def as_javascript_numbers(value: object) -> object:
    """Return ``value`` with each whole float as an int, as a JSON round trip through JavaScript leaves it.

    JupyterLab's ``JSON.stringify`` writes the float ``3.0`` as ``3``, which the server reads back as an int.

    Example:
        >>> as_javascript_numbers({"epochs": 3.0, "loss": [0.25, 0.0], "big": 1e22})
        {'epochs': 3, 'loss': [0.25, 0], 'big': 1e+22}
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < LARGEST_PLAIN_JAVASCRIPT_NUMBER:
        return int(value)
    if isinstance(value, dict):
        return {key: as_javascript_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_javascript_numbers(item) for item in value]
    return value


def jupyterlab_text(notebook: nbformat.NotebookNode) -> str:
    """Return the file text JupyterLab 4 saves for ``notebook``: its numbers, its kernelspec, nbformat's writer.

    Example:
        >>> '"epochs": 3.0' in jupyterlab_text(nbformat.v4.new_notebook(metadata={"epochs": 3.0}))
        False
    """
    saved = nbformat.from_dict(as_javascript_numbers(notebook))
    if saved.metadata.get("kernelspec", {}).get("name") == "python3":
        saved.metadata["kernelspec"] = dict(JUPYTERLAB_KERNELSPEC)
    return nbformat.writes(saved) + "\n"


def write_as_jupyterlab_saves(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write ``notebook`` to ``path`` as :func:`jupyterlab_text`, atomically (old file or new, never half)."""
    write_atomically(path, jupyterlab_text(notebook))


MAGICS_OF_PYTHON = ("time", "timeit", "prun", "capture", "debug")
"""IPython magics whose argument (or cell) is Python that runs in the notebook's namespace."""


class CellSyntaxError(ValueError):
    """A code cell that is neither Python nor IPython (``%time``, ``!pip``): the message names the cell."""


def cell_statements(source: str, where: str = "a cell") -> list[ast.stmt]:
    """Return the Python statements of a code cell, IPython syntax included.

    IPython's own input transformer turns magics and shell escapes (``%time``,
    ``%%capture``, ``!ls``) into the calls the kernel runs; a magic's Python
    argument (``%time answer = f()``) counts as its statements too.

    Example:
        >>> [type(s).__name__ for s in cell_statements("%matplotlib inline\\nEPOCHS = 3")]
        ['Expr', 'Assign']
        >>> [s.targets[0].id for s in cell_statements("%time answer = 2")[1:]]
        ['answer']
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        module = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as error:
        raise CellSyntaxError(f"{where} is not valid Python or IPython (line {error.lineno}: {error.msg}): "
                              "fix that cell, then run again.") from None
    statements = []
    for statement in module.body:
        statements.append(statement)
        statements += _magic_statements(statement)
    return statements


def _magic_statements(statement: ast.stmt) -> list[ast.stmt]:
    """The statements of a magic's Python argument: ``run_line_magic('time', 'x = 1')`` gives ``x = 1``."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args
            and call.func.attr in ("run_line_magic", "run_cell_magic")
            and isinstance(call.args[0], ast.Constant) and call.args[0].value in MAGICS_OF_PYTHON):
        return []
    texts = [arg.value for arg in call.args[1:] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    for text in reversed(texts):  # a cell magic's body comes last
        try:
            return [inner for found in ast.parse(text).body for inner in (found, *_magic_statements(found))]
        except SyntaxError:
            continue
    return []


class NotebookFailedError(Exception):
    """A notebook whose execution stopped at a cell; the message names the notebook, the cell and the error."""


def failure_message(notebook: nbformat.NotebookNode, name: str, error: BaseException) -> str:
    """Return one paragraph naming the cell that failed (its number and first line) and its error.

    Example:
        >>> cell = nbformat.v4.new_code_cell("1 / 0", outputs=[nbformat.v4.new_output(
        ...     "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])])
        >>> failure_message(nbformat.v4.new_notebook(cells=[cell]), "06.ipynb", RuntimeError())
        '06.ipynb failed in cell 1 (`1 / 0`): ZeroDivisionError: division by zero. The notebook was not rewritten.'
    """
    for number, cell in enumerate(notebook.cells, start=1):
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            reason = f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
            return f"{name} failed in cell {number} (`{first_line[:80]}`): {reason}. The notebook was not rewritten."
    reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return f"{name} stopped: {reason[:300]}. The notebook was not rewritten."


def execute_in_place(path: Path, checkpoint_dir: Path, preset: str = "class", timeout_s: int = 1800) -> float:
    """Execute one notebook in its own folder, stamp it and save it; return seconds taken.

    ``checkpoint_dir`` is the kernel's checkpoint folder. One fresh folder for a
    batch of notebooks executed in order lets 09 and 10 load what 08 trained, as
    they do for a learner, while no committed output resumes an earlier run.
    """
    import torch
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    refresh_generated_cells(notebook, path.name)
    started = time.perf_counter()
    from nbclient.exceptions import CellControlSignal, CellExecutionError, DeadKernelError

    with environment_variables({PRESET_ENV_VAR: preset, CHECKPOINT_DIR_ENV_VAR: str(checkpoint_dir)}):
        try:
            NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", coalesce_streams=True,
                           extra_arguments=KERNEL_ARGUMENTS,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except (CellExecutionError, CellControlSignal, DeadKernelError, TimeoutError) as error:
            raise NotebookFailedError(failure_message(notebook, path.name, error)) from None
    clean_metadata(notebook)
    notebook.metadata[STAMP_KEY] = {"code_sha256": code_hash(notebook), "preset": preset,
                                    "torch": torch.__version__.split("+")[0]}
    write_as_jupyterlab_saves(notebook, path)
    return time.perf_counter() - started


def execute_batch(paths: list[Path], preset: str = "class", report: Callable[[str], None] | None = None
                  ) -> tuple[list[tuple[str, float]], list[str]]:
    """Execute notebooks in place, in order, sharing one fresh checkpoint folder.

    Returns (name, seconds) for each notebook that ran through, and the message of
    each that failed (a failed notebook is left as it was, and the others still run).
    ``report`` gets a line as each notebook finishes. ``execute --cluster`` sends this
    whole batch to one Dask worker, since 09 and 10 load what 08 trained.
    """
    timings, failed = [], []
    with tempfile.TemporaryDirectory(prefix="course-checkpoints-") as checkpoints:
        for path in paths:
            try:
                seconds = execute_in_place(path, Path(checkpoints), preset=preset)
            except NotebookFailedError as error:
                failed.append(str(error))
                continue
            timings.append((path.name, seconds))
            if report is not None:
                report(f"executed {path.name} in {seconds:.1f} s ({preset} preset)")
    return timings, failed
