"""Every exercise check accepts its reference solution and rejects typical wrong answers."""

import torch
import torch.utils.data

from helpers.course.checks import UNANSWERED_HINT, exercise_check
from helpers.course.checks import start, tensors


def test_a_check_never_raises_and_prints_a_hint(capsys):
    @exercise_check
    def explodes(answer):
        raise ZeroDivisionError("boom")

    explodes(1)
    assert "not yet" in capsys.readouterr().out
    assert explodes.judge(1) == (False, "checking your answer raised ZeroDivisionError: boom")


def test_unanswered_exercises_get_the_replace_hint():
    assert start.first_tensor.judge(None) == (False, UNANSWERED_HINT)
    assert tensors.cubic_gradient.judge(...) == (False, UNANSWERED_HINT)


def test_start_checks():
    assert start.autograd_module.judge("torch.autograd")[0]
    assert not start.autograd_module.judge("torch.nn")[0]
    assert start.first_tensor.judge(torch.arange(1, 7).reshape(2, 3))[0]
    assert start.first_tensor.judge(torch.tensor([[1.0, 2, 3], [4, 5, 6]]))[0]
    assert "shape (2, 3)" in start.first_tensor.judge(torch.arange(1, 7))[1]
    assert not start.first_tensor.judge([[1, 2, 3], [4, 5, 6]])[0]
    assert start.batching_class.judge(torch.utils.data.DataLoader)[0]
    assert "not its name" in start.batching_class.judge("DataLoader")[1]
    assert not start.batching_class.judge(torch.utils.data.Dataset)[0]


def test_tensor_checks():
    a, b = torch.arange(6.0).reshape(2, 3), torch.ones(3, 4)
    assert tensors.matrix_product.judge(a @ b, a, b)[0]
    assert not tensors.matrix_product.judge(a * 2, a, b)[0]
    assert not tensors.matrix_product.judge((a @ b).T, a, b)[0]
    matrix, row = torch.zeros(4, 3), torch.tensor([1.0, 2.0, 3.0])
    assert tensors.broadcast_add.judge(matrix + row, matrix, row)[0]
    assert not tensors.broadcast_add.judge(row, matrix, row)[0]
    assert not tensors.broadcast_add.judge(matrix + 1, matrix, row)[0]
    assert tensors.cubic_gradient.judge(torch.tensor(14.0))[0]
    assert "that is y itself" in tensors.cubic_gradient.judge(12.0)[1]
    assert not tensors.cubic_gradient.judge(torch.tensor(3.0))[0]
