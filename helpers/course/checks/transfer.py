"""Checks for the exercises of notebook 05, transfer learning."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from helpers.course.checks import Verdict, as_number, exercise_check, kind_of, number_problem


@exercise_check
def frozen_with_new_head(answer: object, num_classes: int = 2) -> Verdict:
    """The answer is a ResNet whose parameters are all frozen except a new ``fc`` head with ``num_classes`` outputs.

    The head may be one Linear layer or a small nn.Sequential ending in one (as notebook 05 builds).
    """
    if not isinstance(answer, torchvision.models.ResNet):
        return False, f"expected a torchvision ResNet (torchvision.models.resnet18(...)), got {kind_of(answer)}."
    head = [module for module in answer.fc.modules() if isinstance(module, nn.Linear)]
    if not head:
        return False, f"fc should end in nn.Linear(model.fc.in_features, {num_classes}); found {answer.fc}."
    if head[-1].out_features != num_classes:
        return False, (f"the head gives {head[-1].out_features} outputs; a {num_classes}-class problem needs "
                       f"{num_classes}: nn.Linear(model.fc.in_features, {num_classes}).")
    if not any(p.requires_grad for p in answer.fc.parameters()):
        return False, "the new fc is frozen too: freeze the backbone first, then replace fc (a new layer trains)."
    if not all(p.requires_grad for p in answer.fc.parameters()):
        return False, "part of the new head is frozen: every parameter of fc should train."
    trainable_backbone = [name for name, p in answer.named_parameters()
                          if p.requires_grad and not name.startswith("fc.")]
    if trainable_backbone:
        return False, (f"{len(trainable_backbone)} backbone tensors still train (such as {trainable_backbone[0]}); "
                       "set requires_grad = False on every parameter before replacing fc.")
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
def published_top1(answer: object, model_name: str) -> Verdict:
    """The answer is the ImageNet-1K top-1 accuracy (in %) torchvision publishes for ``model_name``'s default weights.

    Two decimals, as the notebook's table prints it, are enough.
    """
    metrics = torchvision.models.get_model_weights(model_name).DEFAULT.meta["_metrics"]["ImageNet-1K"]
    problem = number_problem(answer, "a number such as 69.76")
    if problem:
        return False, problem
    value = as_number(answer)
    if abs(value - metrics["acc@1"]) <= 0.005 + 1e-9:
        return True, ""
    if abs(value - metrics["acc@5"]) <= 0.005 + 1e-9:
        return False, "that is the top-5 accuracy ('acc@5'); top-1 is 'acc@1'."
    if abs(value * 100 - metrics["acc@1"]) <= 0.5:
        return False, "torchvision gives accuracies in percent (like 77.69), not as a fraction."
    return False, (f"got {value:g}; read get_model_weights({model_name!r}).DEFAULT.meta['_metrics']['ImageNet-1K']"
                   "['acc@1'] (the ResNet figures above belong to other models).")


@exercise_check
def changed_by_one_step(answer: object, model: nn.Module) -> Verdict:
    """The answer names the parameters one training step of the frozen ``model`` changed: those of ``fc`` only."""
    if isinstance(answer, str):
        return False, "give a list of names (such as ['fc.weight', ...]), not one text."
    if not isinstance(answer, (list, tuple, set, dict)) or not all(isinstance(name, str) for name in answer):
        return False, f"expected a list of parameter names, got {kind_of(answer)}."
    names = set(answer)
    parameters = {name for name, _ in model.named_parameters()}
    head = {name for name in parameters if name.startswith("fc.")}
    if names == head:
        return True, ""
    if any("running_" in name or "num_batches_tracked" in name for name in names):
        return False, ("running_mean and running_var are BatchNorm buffers, not parameters: in train mode they move "
                       "even when frozen, but the optimizer never touches them. Compare named_parameters() only.")
    if not names:
        head_gradients = [parameter.grad for name, parameter in model.named_parameters() if name in head]
        if all(gradient is None for gradient in head_gradients):
            return False, ("nothing changed, and fc holds no gradients: loss.backward() was not called before "
                           "optimizer.step().")
        return False, ("nothing changed in your comparison, yet fc holds gradients, so backward ran. Either "
                       "optimizer.step() was not called, or the values from before were kept with .detach() alone, "
                       "which shares memory with the parameter and changes with it: use parameter.detach().clone().")
    if names - head and names >= head:
        return False, (f"{len(names - head)} backbone parameters changed too: the backbone is not frozen. "
                       "Set requires_grad = False on it before the step.")
    if names < head:
        return False, f"{sorted(head - names)} changed too: compare every parameter of fc, the bias included."
    return False, f"expected the parameters of the new head, {sorted(head)}; got {sorted(names)}."
