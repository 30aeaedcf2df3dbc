"""The install story: pyproject, constraints, environment.yml, README and CI agree."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_runtime_dependencies_are_lower_bounds_only():
    for line in pyproject()["project"]["dependencies"]:
        specifiers = {spec.operator for spec in Requirement(line).specifier}
        assert specifiers == {">="}, f"{line}: use a lower bound so Colab's torch is never replaced"


def test_constraints_pin_the_tested_torch():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M))
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


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
