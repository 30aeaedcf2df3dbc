"""Every notebook's setup cell, run as Colab, Kaggle and a local checkout would run it.

The tests stand in for Colab (a fake ``google.colab`` module) and Kaggle (its
environment variable), and record instead of running ``pip``.
"""

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import types
import venv
import zipfile

import nbformat
import pytest
from packaging.utils import canonicalize_name

import helpers
from helpers.course import facts

NOTEBOOKS = facts.notebook_paths()
REAL_FIND_SPEC = importlib.util.find_spec


def setup_source(path):
    notebook = nbformat.read(path, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.fixture
def pip_calls(monkeypatch):
    calls = []
    def recording_pip(command, **kwargs):
        calls.append((command, kwargs))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", recording_pip)
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
    assert options == {"capture_output": True, "text": True}
    assert not any(arg.startswith(("--upgrade", "-U", "--force")) for arg in command)
    assert "runtime     colab" in capsys.readouterr().out


def test_kaggle_is_recognised(pip_calls, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    pretend_not_installed(monkeypatch, tmp_path)
    exec(setup_source(NOTEBOOKS[0]), {})
    assert len(pip_calls) == 1 and "runtime     kaggle" in capsys.readouterr().out


@pytest.mark.parametrize("pip_says", ["ERROR: Could not find a version that satisfies the requirement",
                                      "ERROR: ResolutionImpossible"])
def test_a_failed_install_says_what_to_do(pip_says, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", pip_says))
    pretend_not_installed(monkeypatch, tmp_path)
    with pytest.raises(RuntimeError) as failure:
        exec(setup_source(NOTEBOOKS[0]), {})
    advice = str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert "turn Internet on under Settings" in advice and f"older than {facts.MINIMUM_TORCH}" in advice
    assert facts.PINNED_REF in advice and advice.endswith(f"{facts.REPOSITORY_URL}#troubleshooting")
    assert pip_says in capsys.readouterr().err


def test_the_advice_names_pyprojects_torch_bound():
    dependencies = tomllib.loads((facts.CHECKOUT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"torch>={facts.MINIMUM_TORCH}" in dependencies



COLAB_LIKE = {  # what a Colab runtime has installed (the kernel's packages are what pip must not touch)
    "torch": "2.9.0", "torchvision": "0.24.0", "numpy": "2.0.2", "pillow": "11.3.0", "matplotlib": "3.10.0",
    "tqdm": "4.67.1", "scikit-learn": "1.6.1", "pooch": "1.8.2", "pyyaml": "6.0.3", "nbformat": "5.10.4",
    "ipykernel": "5.5.6", "jupyter-client": "6.1.12", "ipython": "7.34.0", "packaging": "24.2",
}
KAGGLE_LIKE = {
    "torch": "2.8.0", "torchvision": "0.23.0", "numpy": "1.26.4", "pillow": "11.2.1", "matplotlib": "3.7.2",
    "tqdm": "4.67.1", "scikit-learn": "1.5.2", "pooch": "1.8.2", "pyyaml": "6.0.2", "nbformat": "5.10.4",
    "ipykernel": "6.17.1", "jupyter-client": "8.6.3", "ipython": "7.34.0", "papermill": "2.6.0",
    "packaging": "25.0",
}
NEWEST = {  # what the package index offers besides: newer releases pip could upgrade to if it wanted
    "torch": "2.14.1", "torchvision": "0.29.1", "numpy": "2.4.0", "pillow": "12.0.0", "matplotlib": "3.11.2",
    "tqdm": "4.68.0", "scikit-learn": "1.8.0", "pooch": "1.9.0", "pyyaml": "6.0.4", "nbformat": "5.11.1",
    "ipykernel": "7.4.0", "jupyter-client": "8.10.0", "ipython": "9.18.1", "papermill": "2.7.0",
    "packaging": "26.4", "torchinfo": "1.8.0", "onnx": "1.23.2", "onnxruntime": "1.32.0", "onnxscript": "0.7.2",
}


def write_wheel(folder, name, version, requires=(), extras=()):
    """Write an empty stand-in wheel of ``name`` that asks for ``requires``; return its path."""
    project = name.replace("-", "_")
    info = f"{project}-{version}.dist-info"
    metadata = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                + "".join(f"Provides-Extra: {extra}\n" for extra in extras)
                + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires))
    path = folder / f"{project}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{info}/METADATA", metadata)
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


def write_course_wheel(folder, dependencies):
    """Write a stand-in of the course package with pyproject.toml's metadata (or other ``dependencies``)."""
    project = tomllib.loads((facts.CHECKOUT_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requires = list(dependencies) + [f'{line}; extra == "{extra}"'
                                     for extra, lines in extras.items() for line in lines]
    return write_wheel(folder, project["name"], helpers.__version__, requires, extras=list(extras))


def pip(*arguments):
    """Run this environment's pip offline, without the machine's configuration; return the result."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull  # no machine-wide indexes or constraints
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments, "--no-index"],
                          capture_output=True, text=True, env=environment, timeout=180)


def runtime_like(folder, installed):
    """Return the Python of a new environment holding stand-ins of the ``installed`` packages."""
    venv.create(folder / "runtime", with_pip=False)
    python = folder / "runtime" / "bin" / "python"
    wheels = [write_wheel(folder / "index", name, version) for name, version in installed.items()]
    result = pip("--python", str(python), "install", "--quiet", "--no-deps", *map(str, wheels))
    assert result.returncode == 0, result.stderr
    return python


def planned_installs(tmp_path, installed, dependencies):
    """Dry-run the setup cell's install in a runtime with ``installed``; return pip's plan {name: version}.

    The course package is asked for as the setup cell asks for it, with the runtime's torch and
    torchvision pinned; the index offers every package at the installed and at a newer version.
    """
    (tmp_path / "index").mkdir()
    python = runtime_like(tmp_path, installed)
    for name, version in NEWEST.items():
        write_wheel(tmp_path / "index", name, version)
    write_course_wheel(tmp_path / "index", dependencies)
    result = pip("--python", str(python), "install", "--dry-run", "--quiet", "--report", "-",
                 "--find-links", str(tmp_path / "index"), f"runnable-pytorch-cheatsheet=={helpers.__version__}",
                 f"torch=={installed['torch']}", f"torchvision=={installed['torchvision']}")
    assert result.returncode == 0, result.stderr
    return {item["metadata"]["name"]: item["metadata"]["version"] for item in json.loads(result.stdout)["install"]}


def runtime_dependencies():
    return tomllib.loads((facts.CHECKOUT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


@pytest.mark.slow
@pytest.mark.parametrize("installed", [COLAB_LIKE, KAGGLE_LIKE], ids=["colab", "kaggle"])
def test_the_install_adds_the_course_and_replaces_nothing(installed, tmp_path):
    plan = planned_installs(tmp_path, installed, runtime_dependencies())
    print("pip would install:", plan)
    assert plan["runnable-pytorch-cheatsheet"] == helpers.__version__
    replaced = {name: version for name, version in plan.items() if canonicalize_name(name) in installed}
    assert replaced == {}, f"the setup cell would replace {replaced} in the runtime"


@pytest.mark.slow
def test_the_dry_run_sees_a_replacement_when_there_is_one(tmp_path):
    plan = planned_installs(tmp_path, COLAB_LIKE, [*runtime_dependencies(), "ipykernel>=6.25"])
    assert plan["ipykernel"] == NEWEST["ipykernel"]


@pytest.mark.slow
def test_pip_refuses_loudly_instead_of_replacing_an_old_torch(tmp_path):
    with pytest.raises(AssertionError, match=r"(?s)torch==2\.6\.0 because.*ResolutionImpossible"):
        planned_installs(tmp_path, {**COLAB_LIKE, "torch": "2.6.0"}, runtime_dependencies())


def onnx_install_code():
    """Return notebook 10's lines that install the ONNX packages where they are missing."""
    notebook = nbformat.read(facts.NOTEBOOKS_DIR / "10_deployment.ipynb", as_version=4)
    [cell] = [cell for cell in notebook.cells if "ONNX_PACKAGES = " in cell.source]
    lines = cell.source.split("\n")
    start = next(index for index, line in enumerate(lines) if line.startswith("ONNX_PACKAGES = "))
    return "import importlib.util, subprocess, sys\n" + "\n".join(lines[start:start + 4])


def test_notebook_10_asks_for_the_onnx_packages_pyproject_names():
    namespace = {}
    exec(onnx_install_code().split("\nif ")[0], namespace)
    instructor = tomllib.loads((facts.CHECKOUT_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["instructor"]
    assert namespace["ONNX_PACKAGES"] == [line for line in instructor if line.startswith("onnx")]


def test_notebook_10_installs_the_onnx_packages_only_where_one_is_missing(pip_calls, monkeypatch, capsys):
    exec(onnx_install_code(), {})
    assert pip_calls == []
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else REAL_FIND_SPEC(name, *a))
    exec(onnx_install_code(), {})
    [(command, options)] = pip_calls
    assert command[:5] == [sys.executable, "-m", "pip", "install", "--quiet"]
    assert command[5:] == ["onnx>=1.17", "onnxruntime>=1.20", "onnxscript>=0.6.2"] and options == {"check": True}
    assert "Installing onnx>=1.17" in capsys.readouterr().out


INSTRUCTOR_ONLY = ("yaml", "nbformat", "nbclient", "papermill", "onnx", "onnxruntime", "onnxscript")
# As if not installed: `import yaml` fails and importlib.util.find_spec("yaml") is None.
BLOCK_INSTRUCTOR_PACKAGES = f"import sys; sys.modules.update(dict.fromkeys({INSTRUCTOR_ONLY!r}))\n"


@pytest.mark.slow
def test_the_helpers_notebooks_import_need_nothing_from_the_instructor_extra():
    modules = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                modules |= set(re.findall(r"^\s*(?:from|import) (helpers[\w.]*)", cell.source, re.M))
    assert "helpers.course.environment" in modules
    imports = "".join(f"import {module}\n" for module in sorted(modules))
    result = subprocess.run([sys.executable, "-c", BLOCK_INSTRUCTOR_PACKAGES + imports], capture_output=True,
                            text=True, timeout=120, cwd=facts.CHECKOUT_ROOT)
    assert result.returncode == 0, result.stderr
