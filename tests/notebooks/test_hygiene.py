"""Every course notebook keeps the conventions, and the checks catch real mistakes."""

import copy
import json

import nbformat
import pytest

from helpers.course import facts
from helpers.tools.hygiene import notebook_problems

NOTEBOOKS = facts.notebook_paths()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_clean(path):
    assert notebook_problems(path) == []


def test_the_course_has_its_notebooks_in_order():
    numbers = [path.name[:2] for path in NOTEBOOKS]
    assert numbers == [f"{n:02d}" for n in range(len(numbers))]


@pytest.fixture
def clean_copy(tmp_path):
    """A copy of notebook 01, and a function to break it and list what the checks find."""
    source = facts.NOTEBOOKS_DIR / "01_tensors_and_autograd.ipynb"
    notebook = nbformat.read(source, as_version=4)

    def problems_after(change):
        broken = copy.deepcopy(notebook)
        change(broken)
        path = tmp_path / source.name
        nbformat.write(broken, path)
        return " | ".join(notebook_problems(path))

    assert problems_after(lambda nb: None) == ""
    return problems_after


def cell_tagged(nb, tag):
    return next(c for c in nb.cells if tag in c.metadata.get("tags", []))


def test_catches_a_wrong_badge_path(clean_copy):
    def point_at_notebook_00(nb):
        cell = cell_tagged(nb, "badges")
        cell.source = cell.source.replace("01_tensors_and_autograd", "00_start_here")

    assert "badges" in clean_copy(point_at_notebook_00)


def test_catches_an_absolute_path_in_an_output(clean_copy):
    def leak_path(nb):
        cell = next(c for c in nb.cells if c.cell_type == "code" and c.outputs)
        cell.outputs.append(nbformat.v4.new_output("stream", text=f"saved to {facts.CHECKOUT_ROOT}/data/x.pt\n"))

    assert "path of the machine" in clean_copy(leak_path)

    def leak_home(nb):
        cell = next(c for c in nb.cells if c.cell_type == "code" and c.outputs)
        cell.outputs.append(nbformat.v4.new_output("stream", text="/home/alice/course/data\n"))

    assert "path of the machine" in clean_copy(leak_home)


def test_catches_a_code_cell_edited_without_re_execution(clean_copy):
    def edit(nb):
        cell = next(c for c in nb.cells if c.cell_type == "code" and "LEARNING_RATE" in c.source)
        cell.source = cell.source.replace("LEARNING_RATE = 0.2", "LEARNING_RATE = 0.3")

    assert "changed since the notebook was last executed" in clean_copy(edit)


def test_catches_a_missing_parameters_cell(clean_copy):
    def untag(nb):
        cell_tagged(nb, "parameters").metadata["tags"] = []

    assert "exactly one cell tagged 'parameters'" in clean_copy(untag)


def test_catches_papermill_leftovers_errors_and_colab_metadata(clean_copy):
    def dirty(nb):
        cell = nbformat.v4.new_code_cell("PRESET = 'smoke'")
        cell.metadata["tags"] = ["injected-parameters"]
        cell.metadata["executionInfo"] = {"user": {"displayName": "Alice"}}
        cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=[])]
        nb.cells.insert(3, cell)

    found = clean_copy(dirty)
    assert "papermill leftover" in found and "error output" in found and "Colab user metadata" in found


def test_committed_outputs_are_small():
    for path in NOTEBOOKS:
        size = len(json.dumps(nbformat.read(path, as_version=4)))
        assert size < 600_000, f"{path.name} is {size / 1e3:.0f} kB: make its figures smaller"


def test_catches_a_file_jupyterlab_would_rewrite(clean_copy):
    def float_and_old_kernelspec(nb):
        nb.metadata["kernelspec"]["display_name"] = "Python 3"
        nb.metadata["epochs"] = 3.0

    assert "as JupyterLab saves it" in clean_copy(float_and_old_kernelspec)


def test_catches_nbval_comments_in_code_cells(clean_copy):
    def mark(nb):
        cell = next(c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", []))
        cell.source = "# NBVAL_CHECK_OUTPUT\n" + cell.source

    assert "NBVAL_" in clean_copy(mark)
