"""The headless runner and its report, on tiny notebooks: one that passes and one that fails."""

import os

import nbformat
import pytest

from helpers.tools.cli import CommandError, main, parse_value, split_parameters
from helpers.tools.report import report_markdown
from helpers.tools.runner import expand_grid, plan_tasks, run_notebooks, run_tasks, strip_ansi


def write_notebook(path, *sources):
    cells = [nbformat.v4.new_code_cell("PRESET = None\nSTEPS = 1\nRATE = 0.5")]
    cells[0].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def tiny_notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    good = write_notebook(folder / "good.ipynb", "from helpers.course.records import record\n"
                          "record('score', STEPS * RATE)\nrecord('exercise:demo', True)")
    bad = write_notebook(folder / "bad.ipynb", "x = 1", "assert STEPS != 2, 'two steps break it'  # the failing cell")
    return good, bad


@pytest.mark.slow
def test_runs_report_figures_and_the_failing_cell(tiny_notebooks, tmp_path):
    good, bad = tiny_notebooks
    runs = run_notebooks([good, bad], tmp_path, {"PRESET": "smoke", "STEPS": 2}, jobs=2)
    assert [run.notebook for run in runs] == ["good.ipynb", "bad.ipynb"]
    assert runs[0].passed and runs[0].records["score"] == 1.0
    assert not runs[1].passed
    assert "# the failing cell" in runs[1].failed_cell
    assert runs[1].error.startswith("AssertionError: two steps break it")
    assert "\x1b[" not in runs[1].failure_text()
    report = report_markdown(runs, "t")
    assert "1 of 2 runs passed" in report and "score = 1" in report and "| 1/1 |" in report


@pytest.mark.slow
def test_a_grid_runs_every_combination_and_a_failure_stops_none(tiny_notebooks, tmp_path):
    good, bad = tiny_notebooks
    tasks = plan_tasks([good, bad], tmp_path, {"PRESET": "smoke"}, {"STEPS": [1, 2], "RATE": [0.5, 1.0]})
    assert len(tasks) == 8
    assert tasks[0].output == tmp_path / "good" / "STEPS=1,RATE=0.5.ipynb"
    runs = run_tasks(tasks, jobs=2)
    assert [run.passed for run in runs] == [True] * 4 + [True, True, False, False]
    assert sorted(run.records["score"] for run in runs[:4]) == [0.5, 1.0, 1.0, 2.0]


@pytest.mark.slow
def test_finished_runs_are_reused_and_changed_ones_are_not(tiny_notebooks, tmp_path):
    good, bad = tiny_notebooks
    tasks = plan_tasks([good, bad], tmp_path, {"PRESET": "smoke"}, {"STEPS": [1, 2]})
    first = run_tasks(tasks)
    again = run_tasks(tasks)
    assert [run.skipped for run in first] == [False] * 4
    assert [run.skipped for run in again] == [True, True, True, False]  # the failed run runs again
    assert again[0].records == first[0].records
    more = plan_tasks([good], tmp_path, {"PRESET": "smoke"}, {"STEPS": [1, 3]})
    assert [run.skipped for run in run_tasks(more)] == [True, False]


@pytest.mark.slow
def test_cli_grid_writes_the_comparison_table_and_plots(tiny_notebooks, tmp_path, capsys):
    good, _ = tiny_notebooks
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("RATE: [0.5, 1.0]\nSTEPS: 4\n")
    out = tmp_path / "out"
    assert main(["run", str(good), "--preset", "smoke", "--out", str(out), "--grid", str(grid_file),
                 "-p", "STEPS", "1", "-p", "STEPS", "2", "--jobs", "2"]) == 0
    report = (out / "report.md").read_text()
    assert "good.ipynb: comparison across 4 combinations" in report
    assert "| RATE | STEPS | status | score |" in report
    assert (out / "plot_good_score.png").exists() and "data:image/png" in (out / "report.html").read_text()


@pytest.mark.slow
def test_cli_fails_when_a_notebook_fails(tiny_notebooks, tmp_path, capsys):
    _, bad = tiny_notebooks
    assert main(["run", str(bad), "--out", str(tmp_path), "-p", "STEPS", "2"]) == 1
    assert "two steps break it" in capsys.readouterr().out


def test_parameters_split_into_fixed_values_and_grid_axes(tmp_path):
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("smoke") == "smoke"
    assert split_parameters([["EPOCHS", "1"], ["SEED", "0"], ["EPOCHS", "3"]], None) == ({"SEED": 0}, {"EPOCHS": [1, 3]})
    with pytest.raises(CommandError, match="needs a value"):
        split_parameters([["EPOCHS"]], None)
    assert expand_grid({"A": [1, 2], "B": ["x"]}) == [{"A": 1, "B": "x"}, {"A": 2, "B": "x"}]


def test_strip_ansi():
    assert strip_ansi("\x1b[31mRed\x1b[0m") == "Red"


def test_a_grid_axis_a_notebook_does_not_declare_does_not_multiply_its_runs(tmp_path):
    declares_rate = write_notebook(tmp_path / "with_rate.ipynb", "x = RATE")
    without_rate = tmp_path / "without_rate.ipynb"
    cell = nbformat.v4.new_code_cell("PRESET = None\nSTEPS = 1")
    cell.metadata["tags"] = ["parameters"]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), without_rate)
    tasks = plan_tasks([declares_rate, without_rate], tmp_path / "out", {"PRESET": "smoke"},
                       {"STEPS": [1, 2], "RATE": [0.5, 1.0, 2.0]})
    by_notebook = {name: [task for task in tasks if task.notebook.name == name]
                   for name in ("with_rate.ipynb", "without_rate.ipynb")}
    assert len(by_notebook["with_rate.ipynb"]) == 6
    assert len(by_notebook["without_rate.ipynb"]) == 2
    assert all("RATE" not in task.parameters for task in by_notebook["without_rate.ipynb"])
    assert sorted(task.parameters["STEPS"] for task in by_notebook["without_rate.ipynb"]) == [1, 2]


def test_environment_variables_are_set_for_the_block_and_put_back(monkeypatch):
    from helpers.tools.executor import environment_variables

    monkeypatch.setenv("COURSE_KEPT", "before")
    monkeypatch.delenv("COURSE_NEW", raising=False)
    with pytest.raises(RuntimeError), environment_variables({"COURSE_KEPT": "inside", "COURSE_NEW": "1"}):
        assert os.environ["COURSE_KEPT"] == "inside" and os.environ["COURSE_NEW"] == "1"
        os.environ["COURSE_OTHER"] = "set by the block"
        raise RuntimeError("a failing run")
    assert os.environ["COURSE_KEPT"] == "before" and "COURSE_NEW" not in os.environ
    assert os.environ.pop("COURSE_OTHER") == "set by the block"  # only the named variables are put back
