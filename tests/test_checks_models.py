"""The checks of notebooks 04 and 05 accept the reference solutions and reject typical wrong answers."""

from collections import OrderedDict

import numpy as np
import torch
import torchvision
from torch import nn

from helpers.course.checks import UNANSWERED_HINT
from helpers.course.checks import models as model_checks
from helpers.course.checks import transfer as transfer_checks
from helpers.models import conv_output_size
from helpers.pretrained import build_transfer_model


def digits(**layers):
    named = OrderedDict([("fc1", nn.Linear(784, 128)), ("relu", nn.ReLU()), ("fc2", nn.Linear(128, 10)),
                         ("output", nn.LogSoftmax(dim=1))])
    named.update(layers)
    return nn.Sequential(named)


def test_digits_classifier():
    check = model_checks.digits_classifier.judge
    assert check(digits()) == (True, "")
    assert check(None) == (False, UNANSWERED_HINT)
    unnamed = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
    assert "OrderedDict" in check(unnamed)[1]
    assert "nn.Linear(128, 10)" in check(digits(fc2=nn.Linear(128, 2)))[1]
    assert "LogSoftmax" in check(digits(output=nn.Softmax(dim=1)))[1]
    assert "LogSoftmax(dim=1)" in check(digits(output=nn.LogSoftmax(dim=0)))[1]
    assert "nn.Sequential" in check(nn.Linear(784, 10))[1]


def test_flattened_size():
    check = model_checks.flattened_size.judge
    features = nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    side = conv_output_size(conv_output_size(conv_output_size(conv_output_size(48, 5), 2, 2), 3, 1, 1), 2, 2)
    assert side == 11
    assert check(16 * side * side, features, 48) == (True, "")
    assert check(np.int64(1936), features, 48)[0]
    assert "channels" in check(side * side, features, 48)[1]
    assert not check(16 * 12 * 12, features, 48)[0]  # forgot that a 5x5 kernel without padding shrinks the image
    assert "whole number" in check("1936", features, 48)[1]


def test_fixed_image_model():
    check = model_checks.fixed_image_model.judge
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    assert check(nn.Sequential(*layers, nn.Flatten(), nn.Linear(8 * 16 * 16, 2)), 32) == (True, "")
    assert "nn.Flatten()" in check(nn.Sequential(*layers, nn.Linear(8 * 16 * 16, 2)), 32)[1]
    assert "(4, 2)" in check(nn.Sequential(*layers, nn.Flatten(), nn.Linear(8 * 16 * 16, 3)), 32)[1]
    assert "nn.Module" in check(lambda x: x, 32)[1]


def fresh_resnet():
    return torchvision.models.resnet18(weights=None)


def test_frozen_with_new_head():
    check = transfer_checks.frozen_with_new_head.judge
    assert check(build_transfer_model("resnet18")) == (True, "")
    not_frozen = fresh_resnet()
    not_frozen.fc = nn.Linear(512, 2)
    assert "still train" in check(not_frozen)[1]
    frozen_after = fresh_resnet()
    frozen_after.fc = nn.Linear(512, 2)
    frozen_after.requires_grad_(False)
    assert "freeze the backbone first" in check(frozen_after)[1]
    assert "nn.Linear" in check(fresh_resnet())[1]  # fc still has 1,000 classes
    assert "ResNet" in check(nn.Linear(512, 2))[1]


def test_optimizer_gets_trainable_only():
    check = transfer_checks.optimizer_gets_trainable_only.judge
    model = build_transfer_model("resnet18", train_layers=("layer4",))
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert check(torch.optim.Adam(trainable, lr=1e-3), model) == (True, "")
    assert check(torch.optim.SGD([{"params": model.layer4.parameters(), "lr": 1e-4},
                                  {"params": model.fc.parameters()}], lr=1e-3), model)[0]
    assert "frozen" in check(torch.optim.Adam(model.parameters()), model)[1]
    assert "missing" in check(torch.optim.Adam(model.fc.parameters()), model)[1]
    assert "another model" in check(torch.optim.Adam(trainable + [nn.Parameter(torch.zeros(1))]), model)[1]
    assert "torch.optim" in check(trainable, model)[1]


def test_published_top1():
    check = transfer_checks.published_top1.judge
    assert check(77.692, "efficientnet_b0") == (True, "")
    assert "top-5" in check(93.532, "efficientnet_b0")[1]
    assert not check(69.758, "efficientnet_b0")[0]
    assert "number" in check("77.692", "efficientnet_b0")[1]
