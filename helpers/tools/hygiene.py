"""Notebook hygiene: the conventions every course notebook keeps, as checks.

:func:`notebook_problems` returns a list of plain-English problems (empty when
the notebook is clean). The test suite runs it over every notebook; maintainers
can run it too before committing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

from helpers.course import facts
from helpers.tools.executor import STAMP_KEY, cell_with_tag, code_hash, jupyterlab_text

TITLE = re.compile(r"^# (\d\d) · \S")
HOME_PATH = re.compile(r"(/home/|/Users/|[A-Za-z]:\\\\Users\\\\)[^/\\\s\"']+")
FORBIDDEN_TAGS = {"injected-parameters", "papermill-error-cell-tag"}
COLAB_CELL_METADATA = {"executionInfo", "outputId", "colab"}


def machine_paths() -> list[str]:
    """Return folders of this machine that must never appear in a committed notebook."""
    folders = {str(facts.CHECKOUT_ROOT), os.path.expanduser("~"), tempfile.gettempdir(),
               sys.prefix, sys.base_prefix}
    return sorted(folder.rstrip("/") + "/" for folder in folders if len(folder) > 1)


def _structure_problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    problems = []
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not TITLE.match(first.source):
        problems.append("the first cell must be a Markdown title '# NN · Title'")
    elif first.source[2:4] != name[:2]:
        problems.append(f"the title's number {first.source[2:4]} does not match the file name")
    if first is not None and "What you will learn" not in first.source:
        problems.append("the first cell must say 'What you will learn'")
    badges = cell_with_tag(nb, "badges")
    if badges is None or badges.source.rstrip().split("\n")[-1] != facts.badges_markdown(name):
        problems.append("the Colab/Kaggle badges are missing or do not point at this notebook "
                        "(run `python -m helpers execute` to refresh them)")
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    if not code_cells or code_cells[0].source != facts.setup_cell_source():
        problems.append("the first code cell must be the course setup cell from helpers.course")
    parameter_cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(parameter_cells) != 1:
        problems.append(f"expected exactly one cell tagged 'parameters', found {len(parameter_cells)}")
    elif not re.search(r"^PRESET = ", parameter_cells[0].source, re.MULTILINE):
        problems.append("the parameters cell must declare PRESET")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("the kernelspec must be 'python3'")
    marked = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "# NBVAL_" in c.source]
    if marked:
        problems.append(f"cells {marked} carry '# NBVAL_' comments: learners read them; use nbval's cell tags "
                        "(such as nbval-check-output) instead")
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    if len(solutions) < 3:
        problems.append(f"expected at least 3 exercises (cells tagged 'solution'), found {len(solutions)}")
    return problems


def _output_problems(nb: nbformat.NotebookNode) -> list[str]:
    problems = []
    local = machine_paths()
    for index, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if tags & FORBIDDEN_TAGS:
            problems.append(f"cell {index} is a papermill leftover ({', '.join(tags & FORBIDDEN_TAGS)})")
        if set(cell.metadata) & COLAB_CELL_METADATA:
            problems.append(f"cell {index} carries Colab user metadata")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index} has an error output ({output.get('ename')})")
            text = json.dumps(output)
            if any(path in text for path in local) or "site-packages" in text or HOME_PATH.search(text):
                problems.append(f"cell {index} has an output that shows a path of the machine that ran it")
    metadata = json.dumps(nb.metadata)
    if any(path in metadata for path in local) or HOME_PATH.search(metadata):
        problems.append("the notebook metadata shows a path of the machine that ran it")
    if {"colab", "widgets"} & set(nb.metadata):
        problems.append("the notebook metadata carries Colab or widget state")
    return problems


def _stamp_problems(nb: nbformat.NotebookNode) -> list[str]:
    stamp = nb.metadata.get(STAMP_KEY)
    if not stamp:
        return ["the notebook was not executed by `python -m helpers execute` (no stamp)"]
    if stamp.get("code_sha256") != code_hash(nb):
        return ["a code cell changed since the notebook was last executed; "
                "run `python -m helpers execute <notebook>` to refresh its outputs"]
    return []


def notebook_problems(path: Path) -> list[str]:
    """Return every convention ``path`` breaks, in plain English (empty when clean)."""
    nb = nbformat.read(path, as_version=4)
    return (_structure_problems(nb, path.name) + _output_problems(nb) + _stamp_problems(nb)
            + _file_problems(path, nb))


def _file_problems(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    if path.read_text(encoding="utf-8") != jupyterlab_text(nb):
        return ["the file is not as JupyterLab saves it (so opening it marks it modified): "
                "`python -m helpers execute` writes it so"]
    return []
