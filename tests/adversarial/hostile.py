"""What the adversarial tests share: a tiny notebook to run, and what a clear refusal looks like."""

import contextlib
import json
import signal

import nbformat

_EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
DAMAGED_NOTEBOOKS = {
    "not JSON": b"not json\n",
    "half a download": json.dumps(_EMPTY_NOTEBOOK).encode()[:20],
    "a JSON list": b"[]",
    "a JSON string": b'"notebook"',
    "a cell without its source": json.dumps({**_EMPTY_NOTEBOOK, "cells": [{"cell_type": "code"}]}).encode(),
    "a cell of no known type": json.dumps({**_EMPTY_NOTEBOOK,
                                           "cells": [{"cell_type": "sql", "source": "", "metadata": {}}]}).encode(),
    "cells that are not a list": json.dumps({**_EMPTY_NOTEBOOK, "cells": {"0": "print(1)"}}).encode(),
    "UTF-16": json.dumps(_EMPTY_NOTEBOOK).encode("utf-16"),
    "empty": b"",
}
"""Files named .ipynb that no notebook reader can open, by what is wrong with them."""


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


class Hung(Exception):
    """Raised by :func:`within_seconds` when the work did not finish in time."""


@contextlib.contextmanager
def within_seconds(seconds):
    """Fail the test (instead of hanging the suite) when the block runs longer than ``seconds``."""
    def give_up(signum, frame):
        raise Hung(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_clear_error(error, *expected_words, raw=(KeyError, TypeError, ZeroDivisionError, AttributeError,
                                                    IndexError, UnboundLocalError)):
    """A clear error: not one of Python's raw exception types, one paragraph naming the expected words."""
    assert type(error) not in raw, f"raw {type(error).__name__}: {error}"
    text = str(error).lower()
    for word in expected_words:
        assert word.lower() in text, f"{word!r} not in {error!r}"
