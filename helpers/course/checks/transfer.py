"""Checks for the exercises of notebook 05, transfer learning."""

from __future__ import annotations

import numbers

import torch
import torchvision
from torch import nn

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def frozen_with_new_head(answer: object, num_classes: int = 2) -> Verdict:
    """The answer is a ResNet whose parameters are all frozen except a new ``fc``: Linear(in, ``num_classes``)."""
    if not isinstance(answer, torchvision.models.ResNet):
        return False, f"expected a torchvision ResNet, got a {type(answer).__name__}."
    if not isinstance(answer.fc, nn.Linear) or answer.fc.out_features != num_classes:
        return False, f"replace fc with nn.Linear(model.fc.in_features, {num_classes}); found {answer.fc}."
    if not all(p.requires_grad for p in answer.fc.parameters()):
        return False, "the new fc is frozen too: freeze the backbone first, then replace fc (a new layer trains)."
    trainable_backbone = [name for name, p in answer.named_parameters()
                          if p.requires_grad and not name.startswith("fc.")]
    if trainable_backbone:
        return False, (f"{len(trainable_backbone)} backbone tensors still train (such as {trainable_backbone[0]}); "
                       "set requires_grad = False on every parameter before replacing fc.")
    return True, ""


@exercise_check
def optimizer_gets_trainable_only(answer: object, model: nn.Module) -> Verdict:
    """The answer is an optimizer over exactly ``model``'s trainable parameters."""
    if not isinstance(answer, torch.optim.Optimizer):
        return False, f"expected a torch.optim optimizer such as torch.optim.Adam, got a {type(answer).__name__}."
    given = {id(p) for group in answer.param_groups for p in group["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    frozen = {id(p) for p in model.parameters() if not p.requires_grad}
    if given & frozen:
        return False, (f"it receives {len(given & frozen)} frozen tensors: keep only the parameters whose "
                       "requires_grad is True.")
    if trainable - given:
        return False, f"{len(trainable - given)} trainable tensors are missing: layer4's as well as fc's should train."
    if given - trainable:
        return False, "it receives parameters of another model: build it from this model's parameters."
    return True, ""


@exercise_check
def published_top1(answer: object, model_name: str) -> Verdict:
    """The answer is the ImageNet-1K top-1 accuracy torchvision publishes for ``model_name``'s default weights."""
    metrics = torchvision.models.get_model_weights(model_name).DEFAULT.meta["_metrics"]["ImageNet-1K"]
    if not isinstance(answer, numbers.Real):
        return False, f"expected a number, got a {type(answer).__name__}; read it from .meta['_metrics']."
    if abs(answer - metrics["acc@1"]) < 1e-6:
        return True, ""
    if abs(answer - metrics["acc@5"]) < 1e-6:
        return False, "that is the top-5 accuracy ('acc@5'); top-1 is 'acc@1'."
    return False, ("read get_model_weights(name).DEFAULT.meta['_metrics']['ImageNet-1K']['acc@1'] "
                   f"for {model_name!r}.")
