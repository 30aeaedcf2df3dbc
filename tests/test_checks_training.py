"""The checks of notebook 06 accept the reference solutions and reject typical mistakes."""

from helpers.course.checks import UNANSWERED_HINT
from helpers.course.checks import training


def good_step(model, images, labels, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def no_zero_grad(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def zero_grad_before_step(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss


def returns_nothing(model, images, labels, loss_fn, optimizer):
    good_step(model, images, labels, loss_fn, optimizer)


def test_training_step():
    assert training.training_step.judge(good_step) == (True, "")
    assert "zero_grad" in training.training_step.judge(no_zero_grad)[1]
    assert "did not change" in training.training_step.judge(zero_grad_before_step)[1]
    assert not training.training_step.judge(returns_nothing)[0]
    assert "expected a function" in training.training_step.judge(3)[1]
    assert training.training_step.judge(None) == (False, UNANSWERED_HINT)


def test_weighted_accuracy():
    correct, sizes = [30, 28, 1], [32, 32, 4]
    assert training.weighted_accuracy.judge(59 / 68, correct, sizes)[0]
    mean_of_means = (30 / 32 + 28 / 32 + 1 / 4) / 3
    assert "mean of the batch accuracies" in training.weighted_accuracy.judge(mean_of_means, correct, sizes)[1]
    assert not training.weighted_accuracy.judge(0.5, correct, sizes)[0]


def test_halving_rates():
    assert training.halving_rates.judge([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])[0]
    assert "halves every epoch" in training.halving_rates.judge([0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125])[1]
    assert "before calling scheduler.step()" in training.halving_rates.judge([0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125])[1]
    assert "expected 6 rates" in training.halving_rates.judge([0.1])[1]
