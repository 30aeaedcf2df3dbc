"""Notebooks the tools write: exactly what JupyterLab 4 saves, and runs without the kernel's TCP notice."""

import nbformat
import pytest

from helpers.tools.executor import JUPYTERLAB_KERNELSPEC, as_javascript_numbers, execute_in_place, jupyterlab_text
from helpers.tools.runner import run_notebook

DISPLAYS_WHOLE_FLOATS = ("from IPython.display import display\n"
                         "display({'text/plain': 'epochs 3', 'application/json': {'epochs': 3.0, 'lr': 0.5}}, raw=True)")


def tiny_notebook(path):
    parameters = nbformat.v4.new_code_cell("PRESET = None")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(DISPLAYS_WHOLE_FLOATS)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_javascript_numbers_keep_fractions_and_huge_numbers():
    assert as_javascript_numbers([3.0, -0.0, 2.5, 1e-7, 1e21, True, "3.0"]) == [3, 0, 2.5, 1e-7, 1e21, True, "3.0"]


@pytest.mark.slow
def test_an_executed_notebook_is_written_as_jupyterlab_saves_it(tmp_path):
    path = tiny_notebook(tmp_path / "tiny.ipynb")
    execute_in_place(path, tmp_path / "checkpoints", preset="smoke", timeout_s=120)
    text = path.read_text(encoding="utf-8")
    assert text == jupyterlab_text(nbformat.reads(text, as_version=4))  # saving again changes nothing
    notebook = nbformat.reads(text, as_version=4)
    assert notebook.metadata.kernelspec == JUPYTERLAB_KERNELSPEC
    assert notebook.cells[1].outputs[0].data["application/json"] == {"epochs": 3, "lr": 0.5}
    assert '"epochs": 3,' in text and '"epochs": 3.0' not in text


@pytest.mark.slow
def test_a_headless_run_prints_no_kernel_transport_notice(tmp_path, capfd):
    run = run_notebook(tiny_notebook(tmp_path / "tiny.ipynb"), tmp_path / "out" / "tiny.ipynb", {"PRESET": "smoke"})
    assert run.passed
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err
