"""The headless runner, on two tiny notebooks: one that passes and one that fails."""

import nbformat
import pytest

from helpers.cli import main, parse_value
from helpers.runner import report_markdown, run_notebooks, strip_ansi


def write_notebook(path, *sources):
    cells = [nbformat.v4.new_code_cell('PRESET = None\nSTEPS = 1')]
    cells[0].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def tiny_notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    good = write_notebook(folder / "good.ipynb",
                          "from helpers.records import record\nrecord('steps_seen', STEPS * 2)")
    bad = write_notebook(folder / "bad.ipynb", "x = 1", "1 / 0  # the failing cell")
    return good, bad


def test_runs_report_figures_and_the_failing_cell(tiny_notebooks, tmp_path):
    good, bad = tiny_notebooks
    runs = run_notebooks([good, bad], tmp_path, {"PRESET": "smoke", "STEPS": 21}, jobs=2)
    assert [run.notebook for run in runs] == ["good.ipynb", "bad.ipynb"]
    assert runs[0].passed and runs[0].records == {"steps_seen": 42}
    assert not runs[1].passed
    assert "1 / 0  # the failing cell" in runs[1].failed_cell
    assert runs[1].error.startswith("ZeroDivisionError")
    assert "\x1b[" not in runs[1].failure_text()
    report = report_markdown(runs, "t")
    assert "1 of 2 notebooks passed" in report and "steps_seen = 42" in report


def test_cli_writes_reports_and_fails_when_a_notebook_fails(tiny_notebooks, tmp_path, capsys):
    good, bad = tiny_notebooks
    assert main(["run", str(good), "--preset", "smoke", "--out", str(tmp_path), "-p", "STEPS", "5"]) == 0
    assert "steps_seen = 10" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "good.ipynb").exists() and (tmp_path / "report.html").exists()
    assert main(["run", str(bad), "--out", str(tmp_path / "bad")]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_parameter_values_are_read_as_yaml():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("smoke") == "smoke"


def test_strip_ansi():
    assert strip_ansi("\x1b[31mRed\x1b[0m") == "Red"
