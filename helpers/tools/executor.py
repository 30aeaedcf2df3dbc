"""Re-execute the course notebooks in place, so their committed outputs are true.

``python -m helpers execute`` runs each notebook top to bottom in the ``class``
preset, refreshes its badge and setup cells from :mod:`helpers.course`, and
stamps it with a hash of its code cells. A test recomputes the hash: a notebook
whose code changed without re-execution fails it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

import nbformat

from helpers.course import facts
from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR
from helpers.course.presets import PRESET_ENV_VAR

STAMP_KEY = "pytorch_course"


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


def refresh_generated_cells(notebook: nbformat.NotebookNode, notebook_name: str) -> None:
    """Rewrite the badge line and the setup cell from :mod:`helpers.course`.

    The badge line is the last line of the cell tagged ``badges``; the setup
    cell is the one tagged ``setup``.
    """
    badges = cell_with_tag(notebook, "badges")
    if badges is not None:
        lines = badges.source.rstrip("\n").split("\n")
        lines[-1] = facts.badges_markdown(notebook_name)
        badges.source = "\n".join(lines)
    setup = cell_with_tag(notebook, "setup")
    if setup is not None:
        setup.source = facts.setup_cell_source()


def clean_metadata(notebook: nbformat.NotebookNode) -> None:
    """Drop metadata that changes on every run or names the person who ran it."""
    for key in ("papermill", "widgets", "colab", "accelerator"):
        notebook.metadata.pop(key, None)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    for cell in notebook.cells:
        for key in ("execution", "papermill", "executionInfo", "outputId", "colab"):
            cell.metadata.pop(key, None)


def execute_in_place(path: Path, preset: str = "class", timeout_s: int = 1800) -> float:
    """Execute one notebook in its own folder, stamp it and save it; return seconds taken."""
    from nbclient import NotebookClient

    import torch

    notebook = nbformat.read(path, as_version=4)
    refresh_generated_cells(notebook, path.name)
    started = time.perf_counter()
    # The kernel inherits these: the preset, and an empty checkpoint folder so that
    # committed outputs show a full training, never one resumed from an earlier run.
    with tempfile.TemporaryDirectory(prefix="course-checkpoints-") as checkpoints:
        with patch.dict(os.environ, {PRESET_ENV_VAR: preset, CHECKPOINT_DIR_ENV_VAR: checkpoints}):
            NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", coalesce_streams=True,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
    clean_metadata(notebook)
    notebook.metadata[STAMP_KEY] = {"code_sha256": code_hash(notebook), "preset": preset,
                                    "torch": torch.__version__.split("+")[0]}
    nbformat.write(notebook, path)
    return time.perf_counter() - started
