"""Every notebook's setup cell, run as Colab, Kaggle and a local checkout would run it.

The tests stand in for Colab (a fake ``google.colab`` module) and Kaggle (its
environment variable), and record instead of running ``pip``.
"""

import importlib.util
import subprocess
import sys
import types

import nbformat
import pytest

from helpers import course, paths

NOTEBOOKS = course.notebook_paths()
REAL_FIND_SPEC = importlib.util.find_spec


def setup_source(path):
    notebook = nbformat.read(path, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.fixture
def pip_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append((command, kwargs)))
    return calls


def pretend_not_installed(monkeypatch, tmp_path):
    """Make ``helpers`` look missing, as in a fresh Colab or Kaggle runtime, until pip has 'installed' it."""
    monkeypatch.chdir(tmp_path)  # no checkout next to the notebook
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "helpers" else REAL_FIND_SPEC(name, *a))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_local_checkout_installs_nothing(path, pip_calls, capsys):
    exec(setup_source(path), {})
    assert pip_calls == []
    assert "runtime     local" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_colab_installs_the_package_at_the_pinned_ref(path, pip_calls, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    pretend_not_installed(monkeypatch, tmp_path)
    exec(setup_source(path), {})
    [(command, options)] = pip_calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-1] == f"runnable-pytorch-cheatsheet @ git+{course.REPOSITORY_URL}@{course.PINNED_REF}"
    assert options == {"check": True}
    assert not any(arg.startswith(("torch", "--upgrade", "-U", "--force")) for arg in command)
    assert "runtime     colab" in capsys.readouterr().out


def test_kaggle_is_recognised(pip_calls, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    pretend_not_installed(monkeypatch, tmp_path)
    exec(setup_source(NOTEBOOKS[0]), {})
    assert len(pip_calls) == 1 and "runtime     kaggle" in capsys.readouterr().out


def test_a_failed_install_stops_the_notebook_loudly(monkeypatch, tmp_path):
    def failing_pip(command, **kwargs):
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(subprocess, "run", failing_pip)
    pretend_not_installed(monkeypatch, tmp_path)
    with pytest.raises(subprocess.CalledProcessError):
        exec(setup_source(NOTEBOOKS[0]), {})


def test_data_lands_in_colab_kaggle_or_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.DATA_DIR_ENV_VAR, raising=False)
    monkeypatch.setattr(paths, "COLAB_DATA_DIR", tmp_path / "content" / "data")
    monkeypatch.setattr(paths, "KAGGLE_DATA_DIR", tmp_path / "kaggle" / "working" / "data")
    assert paths.data_dir() == course.CHECKOUT_ROOT / "data"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert paths.data_dir() == tmp_path / "content" / "data"
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    assert paths.data_dir() == tmp_path / "kaggle" / "working" / "data"
    monkeypatch.setenv(paths.DATA_DIR_ENV_VAR, str(tmp_path / "mine"))
    assert paths.data_dir() == tmp_path / "mine"
