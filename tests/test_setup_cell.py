"""Every notebook's setup cell, run as Colab, Kaggle and a local checkout would run it.

The tests stand in for Colab (a fake ``google.colab`` module) and Kaggle (its
environment variable), and record instead of running ``pip``.
"""

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import types
import zipfile

import nbformat
import pytest

from helpers.course import facts, paths

NOTEBOOKS = facts.notebook_paths()
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
    assert command[:5] == [sys.executable, "-m", "pip", "install", "--quiet"]
    assert command[5] == f"runnable-pytorch-cheatsheet @ git+{facts.REPOSITORY_URL}@{facts.PINNED_REF}"
    assert command[6:] == [f"torch=={importlib.metadata.version('torch')}",
                           f"torchvision=={importlib.metadata.version('torchvision')}"]
    assert options == {"check": True}
    assert not any(arg.startswith(("--upgrade", "-U", "--force")) for arg in command)
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



def write_course_wheel(folder, requires):
    """Write a stand-in for the course package that asks for ``requires``; return the folder.

    It has a name of its own, since the real package is installed in this environment already.
    """
    name, version = "stand_in_course", "0.1.0"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: stand-in-course\n"
                            f"Version: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/RECORD": "",
    }
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return folder


def pip_as_the_setup_cell_calls_it(wheels):
    """Run the setup cell's pip command for real (a dry run, offline), with the stand-in wheel."""
    keep = [f"torch=={importlib.metadata.version('torch')}",
            f"torchvision=={importlib.metadata.version('torchvision')}"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull  # no machine-wide indexes or constraints
    return subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
                           "--find-links", str(wheels), "stand-in-course", *keep],
                          capture_output=True, text=True, env=environment, timeout=120)


def test_pip_keeps_the_runtime_torch_when_it_is_new_enough(tmp_path):
    result = pip_as_the_setup_cell_calls_it(write_course_wheel(tmp_path, ["torch>=2.7", "torchvision>=0.22"]))
    assert result.returncode == 0, result.stderr
    assert "Would install stand-in-course-0.1.0" in result.stdout
    assert "torch-" not in result.stdout.split("Would install")[1]


def test_pip_refuses_loudly_instead_of_replacing_an_old_torch(tmp_path):
    result = pip_as_the_setup_cell_calls_it(write_course_wheel(tmp_path, ["torch>=99"]))
    assert result.returncode != 0
    assert "torch>=99" in result.stdout + result.stderr
