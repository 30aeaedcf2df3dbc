"""The install story: pyproject, constraints, environment.yml, README and CI agree."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers.tools import doctor

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_runtime_dependencies_are_lower_bounds_only():
    for line in pyproject()["project"]["dependencies"]:
        specifiers = {spec.operator for spec in Requirement(line).specifier}
        assert specifiers == {">="}, f"{line}: use a lower bound so Colab's torch is never replaced"


def pins(name):
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / name).read_text(), re.M))


def all_requirements():
    """Every dependency of pyproject.toml: runtime, then each extra's (the course's own extras left out)."""
    project = pyproject()["project"]
    lines = project["dependencies"] + [line for extra in project["optional-dependencies"].values() for line in extra]
    return [Requirement(line) for line in lines if Requirement(line).name != project["name"]]


def lower_bounds():
    """Every dependency of pyproject.toml with the version it asks for at least."""
    bounds = {}
    for requirement in all_requirements():
        [specifier] = requirement.specifier
        bounds[canonicalize_name(requirement.name)] = Version(specifier.version)
    return bounds


def test_constraints_pin_the_tested_torch():
    tested = pins("constraints.txt")
    assert tested["torch"] == "2.14.1" and tested["torchvision"] == "0.29.1"


def test_oldest_constraints_pin_every_dependency_at_its_lower_bound():
    oldest = {canonicalize_name(name): Version(version) for name, version in pins("constraints-oldest.txt").items()}
    for name, bound in lower_bounds().items():
        assert oldest.get(name) == bound, f"constraints-oldest.txt must pin {name}=={bound}"


def test_doctor_knows_the_same_lower_bounds():
    bounds = lower_bounds()
    assert doctor.MIN_TORCH == bounds["torch"].release[:2]
    assert doctor.MIN_TORCHVISION == bounds["torchvision"].release[:2]


def test_learners_get_only_what_the_notebooks_import():
    runtime = {Requirement(line).name for line in pyproject()["project"]["dependencies"]}
    assert not runtime & {"ipykernel", "jupyter-client", "papermill", "nbformat", "pyyaml", "onnx", "onnxscript"}
    extras = pyproject()["project"]["optional-dependencies"]
    assert "runnable-pytorch-cheatsheet[instructor]" in extras["dev"]
    assert {"papermill", "ipykernel", "onnxscript"} <= {Requirement(line).name for line in extras["instructor"]}


def test_environment_yml_lists_the_same_packages_as_pyproject():
    wanted = {requirement.name.lower(): str(requirement.specifier) for requirement in all_requirements()}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    [from_pypi] = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    listed = {}
    for entry in conda + from_pypi:
        if not entry.startswith(("python", "pip", "-e")):
            requirement = Requirement(entry)
            listed[CONDA_NAMES.get(requirement.name, requirement.name).lower()] = str(requirement.specifier)
    assert listed == wanted
    assert "-e ." in from_pypi


def test_license_is_the_one_pyproject_names():
    assert pyproject()["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_gitignore_ignores_a_venv_folder_or_symlink():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".venv" in ignored and ".venv/" not in ignored


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"^make test$", readme, re.M)
    assert test_command, "the README's quick start must show `make test`"
    assert re.search(r"^make test$", ci, re.M)


def make_recipe(target: str) -> str:
    """Return the recipe lines of ``target`` in the Makefile."""
    makefile = (ROOT / "Makefile").read_text()
    return re.search(rf"^{target}:.*\n((?:\t.*\n)*)", makefile, re.M).group(1)


def test_make_test_covers_the_pinned_and_the_oldest_versions():
    recipe = make_recipe("test")
    assert 0 <= recipe.find("test-pinned") < recipe.find("test-oldest")
    assert "venv-oldest-beside" in recipe  # the oldest environment downloads while the pinned suite runs
    assert "-c constraints-oldest.txt" in make_recipe(r"\$\(OLDEST_VENV\)/.installed")


def workflow(name):
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_github_runs_make_test_on_python_311_with_cached_pip_downloads():
    [job] = workflow("tests.yml")["jobs"].values()
    steps = job["steps"]
    [python] = [step for step in steps if step.get("uses", "").startswith("actions/setup-python")]
    assert python["with"]["python-version"] == "3.11" and python["with"]["cache"] == "pip"
    assert any(step.get("run") == "make test" for step in steps)


def test_the_site_is_published_on_release_tags():
    site = workflow("site.yml")
    assert site[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as True
    uses = [step.get("uses", "") for job in site["jobs"].values() for step in job["steps"]]
    assert any(use.startswith("actions/deploy-pages") for use in uses)


def test_readme_links_the_ci_status_and_the_site():
    from helpers.course import facts

    top = "\n".join((ROOT / "README.md").read_text().splitlines()[:5])
    assert f"{facts.REPOSITORY_URL}/actions/workflows/tests.yml/badge.svg" in top
    assert facts.site_url() in top
    assert (ROOT / "CONTRIBUTING.md").exists()


@pytest.mark.slow
def test_the_built_package_holds_every_subpackage(tmp_path):
    """What Colab and Kaggle install: a wheel built from the sources, with the course runtime and the tools."""
    import shutil
    import subprocess
    import sys
    import zipfile

    # built without isolation, so by this environment's setuptools: 77 is the first to read `license = "MIT"`
    pytest.importorskip("setuptools", minversion="77", reason="this environment's setuptools predates SPDX licenses")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path)
    shutil.copytree(ROOT / "helpers", tmp_path / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(tmp_path)], check=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    sources = {str(path.relative_to(ROOT)) for path in (ROOT / "helpers").rglob("*.py")}
    assert sources <= packaged, f"missing from the wheel: {sorted(sources - packaged)}"
