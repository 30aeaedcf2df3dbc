"""The command line as instructors type it: options anywhere, both names, and no checkout."""

import shutil
import subprocess
import sys

import pytest

from helpers.course import facts
from helpers.tools import cli


@pytest.fixture
def planned(monkeypatch):
    """Run ``main`` with the runner replaced by a recorder of what it was asked to run."""
    asked = {}

    def record(args):
        asked["notebooks"] = [path.name for path in cli.resolve_notebooks(args.notebooks)]
        asked["fixed"], asked["grid"] = cli.split_parameters(args.parameter, args.grid)
        asked["preset"] = args.preset
        return 0

    monkeypatch.setattr(cli, "command_run", record)
    return lambda *argv: (cli.main(list(argv)), asked)[1]


@pytest.mark.parametrize("argv", [
    ["run", "--preset", "smoke", "-p", "STEPS", "500", "01"],
    ["run", "01", "--preset", "smoke", "-p", "STEPS", "500"],
    ["run", "-p", "STEPS", "500", "01", "--preset", "smoke"],
])
def test_options_may_come_before_or_after_the_notebooks(planned, argv):
    asked = planned(*argv)
    assert asked == {"notebooks": ["01_tensors_and_autograd.ipynb"], "fixed": {"STEPS": 500}, "grid": {},
                     "preset": "smoke"}


def test_names_between_options_and_repeated_parameters_as_grids(planned):
    asked = planned("run", "01", "-p", "EPOCHS", "2", "06", "--preset", "smoke", "-p", "SEED", "0", "-p", "EPOCHS", "5")
    assert asked["notebooks"] == ["01_tensors_and_autograd.ipynb", "06_the_training_loop.ipynb"]
    assert asked["fixed"] == {"SEED": 0} and asked["grid"] == {"EPOCHS": [2, 5]}


def test_a_parameter_without_a_value_is_refused(planned, capsys):
    with pytest.raises(SystemExit) as stop:
        planned("run", "01", "-p", "STEPS")
    assert stop.value.code == cli.EXIT_BAD_INPUT and "expected 2 arguments" in capsys.readouterr().err


def test_outside_a_checkout_run_finds_notebooks_where_the_learner_is(monkeypatch, tmp_path):
    monkeypatch.setattr(facts, "NOTEBOOKS_DIR", tmp_path / "site-packages" / "notebooks")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cli.CommandError, match=r"no course notebooks here.*git clone"):
        cli.resolve_notebooks([])
    (tmp_path / "notebooks").mkdir()
    shutil.copy(facts.CHECKOUT_ROOT / "notebooks" / "01_tensors_and_autograd.ipynb", tmp_path / "notebooks")
    assert cli.resolve_notebooks([]) == [tmp_path / "notebooks" / "01_tensors_and_autograd.ipynb"]
    assert cli.resolve_notebooks(["01"]) == [tmp_path / "notebooks" / "01_tensors_and_autograd.ipynb"]


@pytest.mark.slow
def test_run_with_no_notebooks_found_exits_non_zero(monkeypatch, tmp_path):
    result = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from helpers.course import facts;"
                             "from helpers.tools import cli;"
                             "facts.NOTEBOOKS_DIR = Path('missing'); sys.exit(cli.main(['run', '--out', 'x']))"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == cli.EXIT_BAD_INPUT and "error: no course notebooks here" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_both_names_print_the_same_usage(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    usage = capsys.readouterr().out
    assert usage.startswith("usage: pytorch-course") and "python -m helpers" in usage
    module = subprocess.run([sys.executable, "-m", "helpers", "--help"], capture_output=True, text=True, timeout=60)
    assert module.stdout == usage
