"""Shared pieces of the adversarial suite: a tiny notebook, the command line run in-process, an outcome tally.

Every test here feeds the course a wrong, careless or hostile input (or kills it
mid-work) and asserts what must happen: a clear error, or the input handled.
"""

import nbformat
import pytest

from helpers.tools.cli import main

SENTINEL_NAME = "INJECTED_CODE_RAN"


def write_tiny_notebook(path, parameters="PRESET = None\nSTEPS = 1\nTAG = 'x'", body="print(STEPS)"):
    cells = [nbformat.v4.new_code_cell(parameters), nbformat.v4.new_code_cell(body)]
    cells[0].metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


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


def assert_clear_refusal(status, out, err, *expected_words):
    """A refusal: non-zero exit, one ``error:`` message naming what is wrong, no traceback."""
    assert status not in (0, None), f"accepted: {out}{err}"
    assert "Traceback" not in out + err
    assert "error" in err.lower(), err
    assert "unexpected" not in err, err  # an unexpected exception is a bug, not a clear message
    for word in expected_words:
        assert word.lower() in err.lower(), f"{word!r} not in {err!r}"
