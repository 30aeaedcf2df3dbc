"""Execute every notebook once, in the smoke preset, with papermill, in this process.

Tests ask for ``smoke_run("01_tensors_and_autograd.ipynb")`` and get the
:class:`~helpers.tools.runner.NotebookRun`; each notebook runs at most once per
session, and the durations are printed at the end of the test run.
"""

from pathlib import Path

import pytest

from helpers.course import facts
from helpers.tools.runner import NotebookRun, run_notebook

_runs: dict[str, NotebookRun] = {}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("smoke")

    def run(name: str) -> NotebookRun:
        if name not in _runs:
            notebook = facts.NOTEBOOKS_DIR / name
            _runs[name] = run_notebook(notebook, Path(out_dir) / name, {"PRESET": "smoke"})
        return _runs[name]

    return run


def pytest_terminal_summary(terminalreporter):
    if not _runs:
        return
    terminalreporter.section("notebook smoke runs")
    for run in _runs.values():
        status = "passed" if run.passed else "FAILED"
        terminalreporter.write_line(f"{run.seconds:6.1f} s  {status:<7} {run.notebook}")
    terminalreporter.write_line(f"{sum(r.seconds for r in _runs.values()):6.1f} s  in all")
