"""Fixtures of the adversarial suite: a tiny notebook, and the command line run in-process.

Every test here feeds the course a wrong, careless or hostile input (or kills it
mid-work) and asserts what must happen: a clear error, or the input handled.
"""

import pytest

from hostile import write_tiny_notebook
from helpers.tools.cli import main


@pytest.fixture
def tiny_notebook(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    return write_tiny_notebook(folder / "tiny.ipynb")


@pytest.fixture
def cli(capsys):
    """Run ``python -m helpers ARGS`` in this process; return (exit status, stdout, stderr)."""
    def run(argv):
        try:
            status = main([str(arg) for arg in argv])
        except SystemExit as exit_:
            status = exit_.code
        out, err = capsys.readouterr()
        return status, out, err

    return run
