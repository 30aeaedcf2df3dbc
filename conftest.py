"""Settings for the whole test run.

Anything that asks for the preset without naming one (a test calling
``resolve_settings()``, a notebook kernel) gets ``smoke`` unless COURSE_PRESET
says otherwise. Checkpoints go to a fresh temporary folder, so a test run never
resumes a learner's training (or an earlier test run's). And each test starts
with torch's compiler caches empty: torch 2.7's strict ``torch.export`` compiles
through dynamo, which gives up on a function (``nn.Sequential.forward``, shared by
every Sequential model) after 8 recompilations in one process.

With pytest-xdist's ``--dist loadfile``, a test file goes to one worker as a
whole (its module fixtures are made once), and so do tests/notebooks (the
notebook runs are shared) and tests/site (the site is built once).
"""

import os
import sys
import tempfile

import pytest

os.environ.setdefault("COURSE_PRESET", "smoke")
os.environ.setdefault("COURSE_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="course-checkpoints-"))
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # each worker its share of the cores, set before torch starts
    from helpers.tools.runner import threads_per_job  # imports no torch

    for name, value in threads_per_job(int(os.environ["PYTEST_XDIST_WORKER_COUNT"])).items():
        os.environ.setdefault(name, value)

_worker_summaries: list[list[str]] = []
"""In the xdist controller: what each worker's tests/notebooks/conftest.py had to report (title first)."""


@pytest.fixture(autouse=True)
def fresh_compiler_caches():
    """Empty dynamo's caches after each test that used them (never importing torch for the others)."""
    yield
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is not None:
        dynamo.reset()


SHARED_FOLDERS = ("tests/notebooks/", "tests/site/")
"""Test folders whose files share session fixtures: each goes to one xdist worker as a whole."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadfile``: one worker per test file, or per folder for :data:`SHARED_FOLDERS`."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrFolderScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            folder = next((folder for folder in SHARED_FOLDERS if nodeid.startswith(folder)), None)
            return folder or super()._split_scope(nodeid)

    return FileOrFolderScheduling(config, log)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: pytest without xdist runs the suite too
def pytest_testnodedown(node, error):
    """Keep what a finished xdist worker reports about its notebook runs."""
    lines = getattr(node, "workeroutput", {}).get("notebook_smoke_runs", [])
    if len(lines) > 1:
        _worker_summaries.append(lines)


def pytest_terminal_summary(terminalreporter):
    for title, *lines in _worker_summaries:
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
