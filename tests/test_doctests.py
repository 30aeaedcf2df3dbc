"""The examples in the docstrings of ``helpers`` run, and show what they say: an example is a test."""

import doctest
import importlib
import pkgutil

import pytest

import helpers
from helpers.course import facts, paths

MODULES = sorted(info.name for info in pkgutil.walk_packages(helpers.__path__, "helpers.")
                 if info.name != "helpers.__main__")  # importing it runs the command line


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name, monkeypatch, tmp_path):
    # As a reader runs them from a checkout's root, in a copy of it: the committed data (data/pretrained/)
    # is there, and what the examples write (synthetic images, checkpoints) stays in the copy.
    (tmp_path / "data").mkdir()
    for committed in (facts.CHECKOUT_ROOT / "data").iterdir():
        if not committed.name.startswith(("generated", "downloads", "cell_images", "synthetic")):
            (tmp_path / "data" / committed.name).symlink_to(committed)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(paths.DATA_DIR_ENV_VAR, str(tmp_path / "data"))
    monkeypatch.setenv(paths.CHECKPOINT_DIR_ENV_VAR, str(tmp_path / "checkpoints"))
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner()  # as `python -m doctest` runs them: any option is the example's own
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} examples in {name} failed (output above)"


def test_the_examples_are_found():
    examples = sum(len(test.examples) for name in MODULES
                   for test in doctest.DocTestFinder().find(importlib.import_module(name), name))
    assert examples >= 100
