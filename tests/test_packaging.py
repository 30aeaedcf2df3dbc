"""The install story: pyproject, constraints, environment.yml, README and CI agree."""

import re
import tomllib
from pathlib import Path

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


def lower_bounds():
    """Every dependency of pyproject.toml, runtime and dev, with the version it asks for at least."""
    project = pyproject()["project"]
    bounds = {}
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
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


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = pyproject()["project"]
    wanted = {}
    for line in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        wanted[requirement.name.lower()] = str(requirement.specifier)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and not entry.startswith(("python", "pip")):
            requirement = Requirement(entry)
            listed[CONDA_NAMES.get(requirement.name, requirement.name).lower()] = str(requirement.specifier)
    assert listed == wanted


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"^make test$", readme, re.M)
    assert test_command, "the README's quick start must show `make test`"
    assert re.search(r"^make test$", ci, re.M)


def test_make_test_covers_the_pinned_and_the_oldest_versions():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: test-pinned test-oldest\b", makefile, re.M)
    assert "-c constraints-oldest.txt" in makefile
