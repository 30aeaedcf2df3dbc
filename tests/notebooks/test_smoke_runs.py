"""Run every notebook in the smoke preset: it must finish, its reference solutions must pass,
and the cells marked for nbval must print what the committed notebook shows.

The figures each notebook records are asserted in the ``test_figures_*.py``
files beside this one, one file per group of notebooks.
"""

import nbformat
import pytest
import torch

from helpers.course import facts
from helpers.tools.executor import STAMP_KEY
from helpers.tools.smoke_runs import compared_by_nbval, output_differences

NOTEBOOKS = [path.name for path in facts.notebook_paths()]
COMPARED = [path.name for path in facts.notebook_paths()
            if any(compared_by_nbval(cell) for cell in nbformat.read(path, as_version=4).cells)]


@pytest.mark.parametrize("name", NOTEBOOKS, ids=[n[:2] for n in NOTEBOOKS])
def test_notebook_runs_and_its_solutions_pass(smoke_run, name):
    run = smoke_run(name)
    assert run.passed, f"{name} failed in the smoke preset\n{run.failure_text()}"
    exercises = {key: value for key, value in run.records.items() if key.startswith("exercise:")}
    assert len(exercises) >= 3, f"{name} records {len(exercises)} exercise checks"
    assert all(exercises.values()), f"reference solutions that fail their check: {exercises}"
    figures = set(run.records) - set(exercises)
    assert figures, f"{name} records no figure: what does its prose promise?"


@pytest.mark.parametrize("name", COMPARED, ids=[n[:2] for n in COMPARED])
def test_marked_cells_print_the_committed_outputs(smoke_run, name):
    committed = nbformat.read(facts.NOTEBOOKS_DIR / name, as_version=4)
    made_with = committed.metadata.get(STAMP_KEY, {}).get("torch")
    installed = torch.__version__.split("+")[0]
    if made_with and made_with != installed:
        pytest.skip(f"the committed outputs were made with torch {made_with}, this is torch {installed}")
    run = smoke_run(name)
    executed = nbformat.read(run.output, as_version=4)
    differences = output_differences(committed, executed)
    assert not differences, f"{name}: outputs differ from the committed ones\n" + "\n".join(differences)
