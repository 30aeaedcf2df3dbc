"""The checks of notebooks 07, 09 and 10 accept the reference solutions and reject typical mistakes."""

import numpy as np
import torch
from torch import nn

from helpers.course.checks import devices, export, predict


def test_device_choice():
    right = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert devices.device_choice.judge(right)[0]
    assert "wrap it" in devices.device_choice.judge(str(right))[1]
    wrong = torch.device("cpu" if torch.cuda.is_available() else "cuda")
    assert "Let the condition decide" in devices.device_choice.judge(wrong)[1]
    assert "replace the `None`" in devices.device_choice.judge(None)[1]


def test_output_on_model_device():
    model = nn.Linear(5, 3).to("meta")
    inputs = torch.randn(8, 5)
    assert devices.output_on_model_device.judge(model(inputs.to("meta")), model, inputs)[0]
    assert "move the inputs" in devices.output_on_model_device.judge(torch.zeros(8, 3), model, inputs)[1]
    assert "one row per input" in devices.output_on_model_device.judge(model(inputs[:2].to("meta")), model, inputs)[1]


def test_batch_megabytes():
    assert devices.batch_megabytes.judge(128 * 3 * 64 * 64 * 4 / 2**20)[0]
    assert "4 bytes" in devices.batch_megabytes.judge(128 * 3 * 64 * 64 / 2**20)[1]
    assert "in bytes" in devices.batch_megabytes.judge(128 * 3 * 64 * 64 * 4)[1]
    assert "10**6" in devices.batch_megabytes.judge(128 * 3 * 64 * 64 * 4 / 1e6)[1]
    assert "float64" in devices.batch_megabytes.judge(128 * 3 * 64 * 64 * 8 / 2**20)[1]


def test_to_numpy():
    prediction = nn.Linear(3, 1)(torch.ones(4, 3))
    assert devices.to_numpy.judge(prediction.detach().cpu().numpy(), prediction)[0]
    assert "still a tensor" in devices.to_numpy.judge(prediction.detach(), prediction)[1]
    assert not devices.to_numpy.judge(np.zeros((4, 1)) + 99, prediction)[0]


def test_batch_of_one():
    image = torch.rand(3, 32, 32)
    assert predict.batch_of_one.judge(image.unsqueeze(0), image)[0]
    assert "went last" in predict.batch_of_one.judge(image.unsqueeze(-1), image)[1]
    assert "expected shape" in predict.batch_of_one.judge(image, image)[1]
    assert "values changed" in predict.batch_of_one.judge(torch.zeros(1, 3, 32, 32), image)[1]


def test_predicted_classes():
    scores = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.1, 0.2]])
    assert predict.predicted_classes.judge(scores.argmax(dim=1), scores)[0]
    assert "keepdim" in predict.predicted_classes.judge(scores.max(1, keepdim=True)[1], scores)[1]
    assert "argmax, not the max" in predict.predicted_classes.judge(scores.max(1)[0], scores)[1]
    assert "dim=1" in predict.predicted_classes.judge(scores.argmax(dim=0), scores)[1]


def test_parasitized_recall():
    matrix = torch.tensor([[45, 5], [10, 40]])
    assert predict.parasitized_recall.judge(0.9, matrix)[0]
    assert "precision" in predict.parasitized_recall.judge(45 / 55, matrix)[1]
    assert "accuracy" in predict.parasitized_recall.judge(0.85, matrix)[1]


def test_channels_first():
    picture = torch.rand(20, 30, 3)
    assert predict.channels_first.judge(picture.permute(2, 0, 1), picture)[0]
    assert "scrambled" in predict.channels_first.judge(picture.reshape(3, 20, 30), picture)[1]
    assert "expected shape" in predict.channels_first.judge(picture.permute(2, 1, 0), picture)[1]


def test_keeps_control_flow():
    assert export.keeps_control_flow.judge("script")[0]
    assert export.keeps_control_flow.judge("torch.jit.script")[0]
    assert "branch the example input took" in export.keeps_control_flow.judge("trace")[1]
    assert not export.keeps_control_flow.judge(1)[0]


def test_exported_output():
    tiny = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    inputs = torch.randn(6, 4)
    program = torch.export.export(tiny, (inputs,))
    assert export.exported_output.judge(program.module()(inputs), tiny, inputs)[0]
    assert ".module()" in export.exported_output.judge(program, tiny, inputs)[1]
    assert "whole input" in export.exported_output.judge(program.module()(inputs)[:2], tiny, inputs)[1]
    assert "values differ" in export.exported_output.judge(torch.zeros(6, 3), tiny, inputs)[1]


def test_max_difference():
    first = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    second = first.numpy() + [[1e-5, -3e-5], [0.0, 2e-5]]
    assert export.max_difference.judge(3e-5, first, second)[0]
    assert "absolute value" in export.max_difference.judge(2e-5, first, second)[1]
    assert "mean" in export.max_difference.judge(1.5e-5, first, second)[1]


def test_dynamic_batch():
    right = ({0: torch.export.Dim("batch", min=1, max=64)},)
    assert export.dynamic_batch.judge(right)[0]
    assert "tuple" in export.dynamic_batch.judge(right[0])[1]
    assert "dimension 0" in export.dynamic_batch.judge(({1: torch.export.Dim("b", min=1, max=64)},))[1]
    assert "1 to 64" in export.dynamic_batch.judge(({0: torch.export.Dim("b", min=1, max=32)},))[1]
