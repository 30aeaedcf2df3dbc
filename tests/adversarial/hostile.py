"""What the adversarial tests share: a tiny notebook to run, and what a clear refusal looks like."""

import nbformat

SENTINEL_NAME = "INJECTED_CODE_RAN"
"""A file that injected code would create: the tests check it never appears."""


def write_tiny_notebook(path, parameters="PRESET = None\nSTEPS = 1\nTAG = 'x'", body="print(STEPS)"):
    cells = [nbformat.v4.new_code_cell(parameters), nbformat.v4.new_code_cell(body)]
    cells[0].metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def assert_clear_refusal(status, out, err, *expected_words):
    """A refusal: non-zero exit, one ``error:`` message naming what is wrong, no traceback."""
    assert status not in (0, None), f"accepted: {out}{err}"
    assert "Traceback" not in out + err
    assert "error" in err.lower(), err
    assert "unexpected" not in err, err  # an unexpected exception is a bug, not a clear message
    for word in expected_words:
        assert word.lower() in err.lower(), f"{word!r} not in {err!r}"
