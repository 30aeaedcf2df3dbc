"""Every notebook's setup cell, run as Colab, Kaggle and a local checkout would run it.

The cell's shell line runs in a real shell with a stand-in ``pip`` that records
its arguments (Colab's ``/content`` is played by a temporary folder), and its
last line, :func:`helpers.course.environment.setup`, runs with a fake
``google.colab`` module or Kaggle's environment variable and a recording pip.
"""

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import types
import venv
import zipfile

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.utils import canonicalize_name

import helpers
from helpers.course import environment, facts

NOTEBOOKS = facts.notebook_paths()
REAL_FIND_SPEC = importlib.util.find_spec


def setup_source(path):
    notebook = nbformat.read(path, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_the_setup_cell_is_two_lines_under_a_comment(path):
    source = setup_source(path)
    assert source == facts.setup_cell_source()
    comment, install, call = source.split("\n")
    assert comment.startswith("# ") and install == "!" + facts.setup_install_command()
    assert call == "from helpers.course.environment import setup; setup()"


def run_setup_cell(path, shell_commands):
    """Run a notebook's setup cell as IPython would: its ``!`` line is handed to ``shell_commands``."""
    python = TransformerManager().transform_cell(setup_source(path))
    shell = types.SimpleNamespace(system=shell_commands.append)
    exec(python, {"get_ipython": lambda: shell})


def stand_in_pip(tmp_path):
    """A folder with a ``pip`` that records its arguments (one line of JSON) in ``pip-calls``; return both."""
    (tmp_path / "bin").mkdir()
    calls = tmp_path / "pip-calls"
    script = tmp_path / "bin" / "pip"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    script.chmod(0o755)
    return tmp_path / "bin", calls


def run_in_shell(command, bin_folder):
    return subprocess.run(["sh", "-c", command], env={**os.environ, "PATH": f"{bin_folder}:{os.environ['PATH']}"},
                          capture_output=True, text=True, timeout=60)


def test_the_install_line_does_nothing_outside_colab_and_kaggle(tmp_path):
    assert not os.path.exists("/content") and not os.path.exists("/kaggle")  # as on a laptop or in CI
    bin_folder, calls = stand_in_pip(tmp_path)
    result = run_in_shell(facts.setup_install_command(), bin_folder)
    assert result.stdout == result.stderr == "" and not calls.exists()


@pytest.mark.parametrize("runtime_folder", ["/content", "/kaggle"])
def test_in_colab_and_kaggle_the_install_line_installs_the_course_alone_at_the_pinned_ref(runtime_folder, tmp_path):
    command = facts.setup_install_command()
    assert command.count(runtime_folder) == 1
    bin_folder, calls = stand_in_pip(tmp_path)
    (tmp_path / "runtime").mkdir()  # stands for Colab's /content or Kaggle's /kaggle
    result = run_in_shell(command.replace(runtime_folder, str(tmp_path / "runtime")), bin_folder)
    assert result.returncode == 0, result.stderr
    [arguments] = [json.loads(line) for line in calls.read_text().splitlines()]
    assert arguments == ["install", "--quiet", "--no-deps",
                         f"runnable-pytorch-cheatsheet @ git+{facts.REPOSITORY_URL}@{facts.PINNED_REF}"]
    assert shlex.split(command.split("&& ")[1])[1:] == arguments  # what a shell gives pip, word for word


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_local_checkout_installs_nothing_and_prints_the_environment(path, pip_calls, capsys):
    shell_commands = []
    run_setup_cell(path, shell_commands)
    assert shell_commands == [facts.setup_install_command()] and pip_calls == []
    assert "runtime     local" in capsys.readouterr().out


@pytest.fixture
def pip_calls(monkeypatch):
    calls = []

    def recording_pip(command, **kwargs):
        calls.append((command, kwargs))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", recording_pip)
    return calls


def pretend_missing(monkeypatch, *names):
    """Make the course's requirements on ``names`` look missing, as in a fresh runtime after the install line.

    Return the set of names still missing: a stand-in pip takes out what it installs.
    """
    missing = set(names)
    real_version = importlib.metadata.version

    def version(name):
        if canonicalize_name(name) in missing:
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    return missing


def test_colab_gets_the_missing_requirements_with_torch_kept_as_it_is(pip_calls, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    still_missing = pretend_missing(monkeypatch, "torchinfo", "pooch")
    installed = {name: importlib.metadata.version(name) for name in ("torch", "torchvision")}
    missing = environment.missing_requirements()
    assert [environment.requirement_name(text) for text in missing] == ["torchinfo", "pooch"]

    def installing_pip(command, **kwargs):
        pip_calls.append((command, kwargs))
        still_missing.clear()
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", installing_pip)
    environment.check_requirements()
    [(command, options)] = pip_calls
    assert command[:5] == [sys.executable, "-m", "pip", "install", "--quiet"]
    assert command[5:] == [*missing, f"torch=={installed['torch']}", f"torchvision=={installed['torchvision']}"]
    assert options == {"capture_output": True, "text": True}
    assert not any(arg.startswith(("--upgrade", "-U", "--force")) for arg in command)
    assert "torch and torchvision stay as they are" in capsys.readouterr().out


def test_kaggle_is_recognised_and_a_failed_install_says_what_to_do(monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    pretend_missing(monkeypatch, "tqdm")
    pip_says = "ERROR: Could not find a version that satisfies the requirement tqdm>=4.66"
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "",
                                                                                               pip_says))
    with pytest.raises(environment.SetupError) as failure:
        environment.setup()
    advice = str(failure.value)
    assert environment.detect_runtime() == "kaggle" and pip_says in advice
    assert "turn Internet on under Settings" in advice and advice.endswith(f"{facts.REPOSITORY_URL}#troubleshooting")


def test_an_old_or_missing_torch_is_never_installed_and_the_advice_says_why(pip_calls, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    pretend_missing(monkeypatch, "torch")
    with pytest.raises(environment.SetupError, match=f"needs torch {re.escape(facts.MINIMUM_TORCH)} or newer"):
        environment.setup()
    assert pip_calls == []


def test_a_missing_requirement_on_a_laptop_says_how_to_get_the_course_environment(pip_calls, monkeypatch):
    pretend_missing(monkeypatch, "torchinfo")
    with pytest.raises(environment.SetupError, match="make venv") as failure:
        environment.setup()
    assert pip_calls == [] and "torchinfo" in str(failure.value)


def test_a_broken_torch_is_one_message_and_jupyter_shows_no_traceback(monkeypatch, capsys):
    def broken():
        raise OSError("libcudart.so.13: cannot open shared object file")

    monkeypatch.setattr(environment, "environment_report", broken)
    with pytest.raises(environment.SetupError) as failure:
        environment.setup()
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert "libcudart" in str(failure.value) and "python -m helpers doctor" in str(failure.value)
    from IPython.core.interactiveshell import InteractiveShell

    capsys.readouterr()
    result = InteractiveShell.instance().run_cell("from helpers.course.environment import setup\nsetup()")
    shown = capsys.readouterr()
    assert isinstance(result.error_in_exec, environment.SetupError)  # the cell fails, so Run all stops there
    assert "Setup stopped: torch or torchvision does not import" in shown.out
    assert "Traceback" not in shown.out + shown.err and "File " not in shown.out + shown.err


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

    The course package is asked for with its requirements and the runtime's torch and torchvision
    pinned, which is what the setup cell's two steps come to (the package alone with ``--no-deps``,
    then :func:`helpers.course.environment.setup` installing what is missing with those pins); the
    index offers every package at the installed and at a newer version.
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
