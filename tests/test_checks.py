"""The exercise-check machinery: a check never raises, and its hints say what was expected.

The checks themselves are judged by the probe corpus in test_checks_probes.py.
"""

import contextlib

import nbformat
import numpy as np
import torch

from helpers.course.checks import (
    UNANSWERED_HINT,
    CheckResult,
    as_number,
    call_learner_function,
    exercise_check,
    kind_of,
    number_problem,
    registry,
    shape_kind_problem,
    start,
    tensors,
)


def test_a_check_never_raises_and_its_hint_is_plain_language(capsys):
    @exercise_check
    def explodes(answer):
        raise ZeroDivisionError("boom")

    explodes(1)
    assert "not yet" in capsys.readouterr().out
    passed, hint = explodes.judge(1)
    assert not passed
    assert "checking your answer raised" not in hint
    assert "your answer (an int) is not what this exercise asks for" in hint and "boom" in hint


def test_a_passing_check_prints_and_records_its_verdict(capsys):
    start.first_tensor(torch.arange(1, 7).reshape(2, 3))
    assert "✅ first_tensor: correct!" in capsys.readouterr().out


def test_unanswered_exercises_get_the_replace_hint():
    assert start.first_tensor.judge(None) == (False, UNANSWERED_HINT)
    assert tensors.product_shape.judge(...) == (False, UNANSWERED_HINT)


def test_kind_of_names_what_the_learner_gave():
    assert kind_of(None) == "None"
    assert kind_of("6") == 'the text "6"'
    assert kind_of(torch.zeros(2, 3)) == "a tensor of shape (2, 3)"
    assert kind_of(1) == "an int" and kind_of([1]) == "a list"


def test_numbers_are_numbers_whatever_library_made_them():
    assert as_number(6) == 6.0 and as_number(np.float32(0.5)) == 0.5
    assert as_number(torch.tensor(2.0, requires_grad=True)) == 2.0
    assert as_number(np.array([3])) == 3.0
    assert as_number("6") is None and as_number(True) is None and as_number(torch.zeros(2)) is None
    assert number_problem("6") == 'you gave the text "6": give the number itself, without quotes.'
    assert "got a list" in number_problem([6])
    assert number_problem(6) == ""


def test_shapes_are_tuples_lists_or_sizes():
    assert shape_kind_problem((2, 3)) == shape_kind_problem([2, 3]) == shape_kind_problem(torch.Size([2, 3])) == ""
    assert "quotes" in shape_kind_problem("(2, 3)")
    assert "tensor.shape" in shape_kind_problem(torch.zeros(2, 3))
    assert "one number per dimension" in shape_kind_problem(6)


def test_a_learner_function_that_fails_is_reported_in_plain_words():
    def divide(value):
        return 1 / value

    assert call_learner_function(divide, 2) == (0.5, "")
    result, failure = call_learner_function(divide, 0)
    assert result is None and failure == "your function stopped with ZeroDivisionError: division by zero"


def test_a_check_stops_code_that_never_ends_with_a_hint():
    @exercise_check(seconds=0.5)
    def runs_forever(answer):
        while True:
            with contextlib.suppress(Exception):  # a learner's loop that swallows errors still stops
                answer()

    passed, hint = runs_forever.judge(lambda: None)
    assert not passed and "still running after 0.5 s" in hint and "never ends" in hint


def test_a_bare_except_in_the_learners_code_does_not_keep_the_check_running():
    def swallow_the_first_stop():
        try:
            while True:
                pass
        except BaseException:  # the learner's bare `except:`
            pass
        while True:
            pass

    @exercise_check(seconds=0.2)
    def calls(answer):
        answer()
        return True, ""

    passed, hint = calls.judge(swallow_the_first_stop)
    assert not passed and "still running" in hint


def test_the_time_limit_is_lifted_after_the_check():
    import signal
    import time

    tensors.product_shape.judge((16, 10))
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.05)


def test_an_interrupted_check_gives_a_hint_not_a_traceback():
    @exercise_check
    def interrupted(answer):
        raise KeyboardInterrupt

    passed, hint = interrupted.judge(1)
    assert not passed and "interrupted" in hint


def test_a_check_gives_a_structured_verdict():
    result = tensors.product_shape.result("16, 10")
    assert isinstance(result, CheckResult)
    assert result.exercise == "product_shape" and result.passed is False and "quotes" in result.hint
    assert tensors.product_shape.result((16, 10)) == CheckResult("product_shape", True, "")


def test_the_registry_lists_every_check_the_notebooks_call():
    import importlib
    import re

    import nbformat

    from helpers.course import facts

    checks = registry()
    for path in facts.notebook_paths():
        source = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        module = importlib.import_module(
            "helpers.course.checks." + re.search(r"from helpers\.course\.checks import (\w+) as check", source).group(1))
        for name in re.findall(r"\bcheck\.(\w+)\(", source):
            assert getattr(module, name) in checks.values(), f"{path.name}: check.{name} is not in the registry"


def test_a_missing_answer_gets_a_sentence_that_says_the_answer_cell_failed(capsys):
    from helpers.course.checks import _show_missing_answer

    class Shell:
        def __init__(self):
            self.shown = []

        def showtraceback(self, exc_tuple, tb_offset=None):
            self.shown.append(exc_tuple[0])

    shell = Shell()
    _show_missing_answer(shell, NameError, NameError("name 'answer_shape' is not defined", name="answer_shape"), None)
    assert "`answer_shape` does not exist yet: your answer cell raised" in capsys.readouterr().out
    _show_missing_answer(shell, NameError, NameError("name 'pritn' is not defined", name="pritn"), None)
    assert shell.shown == [NameError] and capsys.readouterr().out == ""


def test_the_checks_copies_of_exercise_data_match_the_notebooks():
    """An in-place answer is judged against the check's copy of the notebook's data: the two must agree."""
    from helpers.course import facts
    from helpers.course.checks import tensors, transforms

    def data_line(notebook: str, start: str) -> dict:
        cells = nbformat.read(facts.NOTEBOOKS_DIR / notebook, as_version=4).cells
        source = next(cell.source for cell in cells if cell.cell_type == "code" and start in cell.source)
        line = next(line for line in source.splitlines() if line.startswith(start))
        namespace: dict = {}
        exec("import torch\nfrom torchvision import transforms\nfrom helpers.transforms import IMAGENET_MEAN, "
             "IMAGENET_STD\n" + line, namespace)
        return namespace

    assert torch.equal(data_line("01_tensors_and_autograd.ipynb", "marks = ")["marks"], tensors.EXERCISE_MARKS)
    assert torch.allclose(data_line("02_transforms.ipynb", "normalized = ")["normalized"],
                          transforms.exercise_normalized())
