import torch

from helpers.course.checks import capstone

CLASSES = ["Parasitized", "Uninfected"]
MATRIX = torch.tensor([[40, 10], [5, 45]])


def test_parasitized_recall():
    assert capstone.parasitized_recall.judge(40 / 50, MATRIX, CLASSES)[0]
    assert "precision" in capstone.parasitized_recall.judge(40 / 45, MATRIX, CLASSES)[1]
    assert not capstone.parasitized_recall.judge(0.85, MATRIX, CLASSES)[0]


def test_model_selection():
    assert capstone.model_selection.judge("validation loss")[0]
    assert "test split" in capstone.model_selection.judge("test accuracy")[1]
    assert "memorising" in capstone.model_selection.judge("training accuracy")[1]


def test_flag_with_threshold():
    scores = torch.tensor([0.1, 0.3, 0.6, 0.2])
    assert capstone.flag_with_threshold.judge(scores >= 0.2, scores, 0.2)[0]
    assert "0.5" in capstone.flag_with_threshold.judge(scores >= 0.5, scores, 0.2)[1]
    assert not capstone.flag_with_threshold.judge(scores > 0.2, scores, 0.2)[0]
    assert "boolean" in capstone.flag_with_threshold.judge((scores >= 0.2).int(), scores, 0.2)[1]
