"""Run every notebook in the smoke preset and assert the figures it records.

Each notebook's prose makes promises ("autograd agrees with calculus", "the
fitted slope is close to the true one"); the notebook records the figures and
the functions below assert them. The smoke preset asserts only what it can reach.
"""

import pytest

from helpers import course

NOTEBOOKS = [path.name for path in course.notebook_paths()]


def expect_00(records):
    assert records["eager_vs_graph_max_abs_diff"] < 1e-6


def expect_01(records):
    assert records["autograd_vs_analytic_max_abs_diff"] < 1e-6
    assert abs(records["fitted_slope"] - records["true_slope"]) < 0.1
    assert abs(records["fitted_slope"] - records["least_squares_slope"]) < 0.05
    assert records["last_loss"] < records["first_loss"] / 10  # "the loss goes down"


EXPECTATIONS = {"00": expect_00, "01": expect_01}


@pytest.mark.parametrize("name", NOTEBOOKS, ids=[n[:2] for n in NOTEBOOKS])
def test_notebook_runs_and_keeps_its_promises(smoke_run, name):
    run = smoke_run(name)
    assert run.passed, f"{name} failed in the smoke preset\n{run.failure_text()}"
    exercises = {key: value for key, value in run.records.items() if key.startswith("exercise:")}
    assert len(exercises) >= 3, f"{name} records {len(exercises)} exercise checks"
    assert all(exercises.values()), f"reference solutions that fail their check: {exercises}"
    EXPECTATIONS[name[:2]](run.records)
