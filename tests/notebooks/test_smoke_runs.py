"""Run every notebook in the smoke preset: it must finish, and its reference solutions must pass.

The figures each notebook records are asserted in the ``test_figures_*.py``
files beside this one, one file per group of notebooks.
"""

import pytest

from helpers.course import facts

NOTEBOOKS = [path.name for path in facts.notebook_paths()]


@pytest.mark.parametrize("name", NOTEBOOKS, ids=[n[:2] for n in NOTEBOOKS])
def test_notebook_runs_and_its_solutions_pass(smoke_run, name):
    run = smoke_run(name)
    assert run.passed, f"{name} failed in the smoke preset\n{run.failure_text()}"
    exercises = {key: value for key, value in run.records.items() if key.startswith("exercise:")}
    assert len(exercises) >= 3, f"{name} records {len(exercises)} exercise checks"
    assert all(exercises.values()), f"reference solutions that fail their check: {exercises}"
    figures = set(run.records) - set(exercises)
    assert figures, f"{name} records no figure: what does its prose promise?"
