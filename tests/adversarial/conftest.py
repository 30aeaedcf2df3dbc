"""Fixtures of the adversarial suite: a tiny notebook, and the command line run in-process.

Every test here feeds the course a wrong, careless or hostile input (or kills it
mid-work) and asserts what must happen: a clear error, or the input handled.
"""

import pytest
from hostile import write_tiny_notebook

from helpers.tools.cli import main


@pytest.fixture
def tiny_notebook(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    return write_tiny_notebook(folder / "tiny.ipynb")


@pytest.fixture
def cli(capsys):
    """Run ``python -m helpers ARGS`` in this process; return (exit status, stdout, stderr)."""
    def run(argv):
        try:
            status = main([str(arg) for arg in argv])
        except SystemExit as exit_:
            status = exit_.code
        out, err = capsys.readouterr()
        return status, out, err

    return run


ATTACK_OUTCOMES = ("code execution", "data loss", "hang", "wrong answer", "raw traceback")
"""What a failed attack did, as issue 30 counts it; a passing attack test is 'held'."""
_tally: dict[str, int] = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "attack(outcome): an attack from issue 30 and what it does when it "
                                       f"succeeds, one of {', '.join(ATTACK_OUTCOMES)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Count each attack test: held when it passes, else under the outcome its marker names."""
    report = (yield).get_result()
    marker = item.get_closest_marker("attack")
    if marker is None or report.skipped or not (report.when == "call" or report.failed):
        return
    outcome = marker.args[0]
    assert outcome in ATTACK_OUTCOMES, f"unknown attack outcome {outcome!r}"
    kind = "held" if report.passed else outcome
    _tally[kind] = _tally.get(kind, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if _tally:
        terminalreporter.section("attacks (issue 30)")
        terminalreporter.write_line("  ".join(f"{kind}: {_tally.get(kind, 0)}" for kind in ("held", *ATTACK_OUTCOMES)))
