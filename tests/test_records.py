import nbformat
import numpy as np
import pytest
import torch

from helpers.course.records import RECORD_MIME_TYPE, _plain, read_records, record


def test_values_become_plain_json():
    assert _plain(torch.tensor(2.5)) == 2.5
    assert _plain(np.float32(0.5)) == 0.5
    assert _plain((1, torch.tensor([1, 2]))) == [1, [1, 2]]
    assert _plain(True) is True


def test_objects_that_are_not_figures_are_refused():
    with pytest.raises(TypeError, match="record numbers"):
        _plain(object())


def test_outside_a_notebook_record_prints_the_line(capsys):
    record("slope", torch.tensor(3.0))
    assert capsys.readouterr().out.strip() == "recorded slope = 3"


def test_read_records_finds_every_record_and_the_last_one_wins():
    def output(name, value):
        return nbformat.v4.new_output("display_data", data={
            "text/plain": f"recorded {name}", RECORD_MIME_TYPE: {"name": name, "value": value}})

    cell = nbformat.v4.new_code_cell("x", outputs=[output("a", 1), output("b", 2.0)])
    later = nbformat.v4.new_code_cell("y", outputs=[output("a", 3)])
    notebook = nbformat.v4.new_notebook(cells=[cell, later])
    assert read_records(notebook) == {"a": 3, "b": 2.0}
