"""The exercise-check machinery: a check never raises, and its hints say what was expected.

The checks themselves are judged by the probe corpus in test_checks_probes.py.
"""

import numpy as np
import torch

from helpers.course.checks import (UNANSWERED_HINT, as_number, call_learner_function, exercise_check, kind_of, number_problem,
                            shape_kind_problem)
from helpers.course.checks import start, tensors


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
