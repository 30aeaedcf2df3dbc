"""Round 3 (issue 30 item 9): a damaged notebook given to a command is named in one message, never a crash.

A file called ``.ipynb`` can be anything: half a download, a JSON list, a notebook whose cells lost their
keys, another encoding. Each gets one ``error:`` line naming the file, and exit status 2.
"""

import pytest
from hostile import DAMAGED_NOTEBOOKS, assert_clear_refusal


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("command", ["run", "student-edition"])
@pytest.mark.parametrize("damage", sorted(DAMAGED_NOTEBOOKS))
def test_a_damaged_notebook_is_named_and_nothing_is_written(cli, tmp_path, command, damage):
    notebook = tmp_path / "mine.ipynb"
    notebook.write_bytes(DAMAGED_NOTEBOOKS[damage])
    out = tmp_path / "out"
    assert_clear_refusal(*cli([command, notebook, "--out", out]), "mine.ipynb", "not a notebook Jupyter can open")
    assert not out.exists()
    assert notebook.read_bytes() == DAMAGED_NOTEBOOKS[damage]
