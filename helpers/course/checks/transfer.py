"""Checks for the exercises of notebook 05, transfer learning."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from helpers.course.checks import Verdict, exercise_check, kind_of


def _head_name(model: nn.Module) -> str:
    """Return the name of the module a torchvision classifier's ``forward`` ends in: ``fc`` or ``classifier``."""
    return "fc" if isinstance(model, torchvision.models.ResNet) else "classifier"


@exercise_check
def frozen_efficientnet(answer: object, num_classes: int = 2) -> Verdict:
    """The answer is an EfficientNet, all frozen but a new last layer with ``num_classes`` outputs in ``classifier``.

    Its head is ``classifier``, a Sequential (Dropout, Linear(1280, 1000)), not a ResNet's ``fc``: the
    last Linear may be replaced (``classifier[1] = ...``) or the whole head (``classifier = ...``).
    """
    if not isinstance(answer, torchvision.models.EfficientNet):
        return False, (f"expected a torchvision EfficientNet (torchvision.models.efficientnet_b0(weights=None)), "
                       f"got {kind_of(answer)}.")
    if isinstance(getattr(answer, "fc", None), nn.Module):
        return False, ("this model has an fc now, but an EfficientNet's forward never calls fc (as with the "
                       "ResNet-50 and classifier above, the other way round): its head is model.classifier. Print "
                       "model.classifier and replace its last layer.")
    head = [module for module in answer.classifier.modules() if isinstance(module, nn.Linear)]
    if not head:
        return False, f"classifier should end in nn.Linear(1280, {num_classes}); found {answer.classifier}."
    if head[-1].out_features != num_classes:
        return False, (f"the head gives {head[-1].out_features} outputs; replace the last layer, "
                       f"classifier[1] = nn.Linear(1280, {num_classes}) (classifier[0] is the Dropout).")
    if head[0].in_features != 1280:
        return False, (f"the new layer takes {head[0].in_features} features, but efficientnet_b0's backbone gives "
                       "1280: nn.Linear(1280, 2), or model.classifier[1].in_features.")
    if not any(p.requires_grad for p in answer.classifier.parameters()):
        return False, ("the new head is frozen too: freeze the backbone first, then replace the layer "
                       "(a new one trains).")
    if not all(p.requires_grad for p in answer.classifier.parameters()):
        return False, "part of the new head is frozen: every parameter of classifier should train."
    trainable_backbone = [name for name, p in answer.named_parameters()
                          if p.requires_grad and not name.startswith("classifier.")]
    if trainable_backbone:
        return False, (f"{len(trainable_backbone)} backbone tensors still train (such as {trainable_backbone[0]}); "
                       "set requires_grad = False on every parameter (with the s) before replacing the head.")
    answer_mode = answer.training
    answer.eval()
    with torch.no_grad():
        output = answer(torch.zeros(2, 3, 64, 64))
    answer.train(answer_mode)
    if tuple(output.shape) != (2, num_classes):
        return False, f"a batch of 2 images gives shape {tuple(output.shape)}, expected (2, {num_classes})."
    return True, ""


@exercise_check
def optimizer_gets_trainable_only(answer: object, model: nn.Module,
                                  train_layers: tuple[str, ...] = ("layer4", "fc")) -> Verdict:
    """The answer is an optimizer over exactly ``model``'s trainable parameters, those of ``train_layers``.

    The check knows which layers the exercise prepared for training, so an answer that unfreezes the
    model to fit the optimizer (rather than the other way round) is caught.
    """
    if not isinstance(answer, torch.optim.Optimizer):
        return False, f"expected a torch.optim optimizer such as torch.optim.Adam(...), got {kind_of(answer)}."
    prepared = {id(p) for name, p in model.named_parameters() if name.split(".")[0] in train_layers}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if trainable != prepared:
        return False, (f"model_to_tune was prepared with only {' and '.join(train_layers)} trainable, and now "
                       f"{len(trainable)} tensors train instead of {len(prepared)}: leave the model as it is (run its "
                       "cell again) and choose the parameters for the optimizer.")
    given = {id(p) for group in answer.param_groups for p in group["params"]}
    frozen = {id(p) for p in model.parameters() if not p.requires_grad}
    if given - trainable - frozen:
        return False, "it receives parameters of another model: build it from model_to_tune's parameters."
    if given & frozen:
        return False, (f"it receives {len(given & frozen)} frozen tensors: keep only the parameters whose "
                       "requires_grad is True.")
    if trainable - given:
        return False, (f"{len(trainable - given)} trainable tensors are missing: layer4's as well as fc's should "
                       "train. Take every parameter whose requires_grad is True.")
    return True, ""


@exercise_check
def changed_by_one_step(answer: object, model: nn.Module) -> Verdict:
    """The answer names the parameters one training step of the frozen ``model`` changed: its new head's only.

    The head is ``fc`` in a ResNet and ``classifier`` in an EfficientNet.
    """
    if isinstance(answer, str):
        return False, "give a list of names (such as ['classifier.1.weight', ...]), not one text."
    if not isinstance(answer, (list, tuple, set, dict)) or not all(isinstance(name, str) for name in answer):
        return False, f"expected a list of parameter names, got {kind_of(answer)}."
    names = set(answer)
    parameters = {name for name, _ in model.named_parameters()}
    head_name = _head_name(model)
    head = {name for name in parameters if name.startswith(head_name + ".")}
    if names == head:
        return True, ""
    if any("running_" in name or "num_batches_tracked" in name for name in names):
        return False, ("running_mean and running_var are BatchNorm buffers, not parameters: in train mode they move "
                       "even when frozen, but the optimizer never touches them. Compare named_parameters() only.")
    if not names:
        head_gradients = [parameter.grad for name, parameter in model.named_parameters() if name in head]
        if all(gradient is None for gradient in head_gradients):
            return False, (f"nothing changed, and {head_name} holds no gradients: loss.backward() was not called "
                           "before optimizer.step().")
        return False, (f"nothing changed in your comparison, yet {head_name} holds gradients, so backward ran. "
                       "Either "
                       "optimizer.step() was not called, or the values from before were kept with .detach() alone, "
                       "which shares memory with the parameter and changes with it: use parameter.detach().clone().")
    if names - head and names >= head:
        return False, (f"{len(names - head)} backbone parameters changed too: the backbone is not frozen. "
                       "Set requires_grad = False on it before the step.")
    if names < head:
        return False, f"{sorted(head - names)} changed too: compare every parameter of {head_name}, the bias included."
    return False, f"expected the parameters of the new head, {sorted(head)}; got {sorted(names)}."
