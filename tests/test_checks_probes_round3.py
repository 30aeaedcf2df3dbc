"""More probes, for the mistakes and the right answers the first corpus did not foresee.

Each probe is one answer to one exercise, made from the exercise's data as a learner's cell would make
it, with the verdict a teacher would give and, for a wrong answer, a word its hint must contain. They
cover answers written another way (a text with other punctuation, an array where a list is asked, a
cached function), wrong answers that look right (a new optimizer's state, a copied file), and code that
hangs or is interrupted.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from probe_corpus import ProbeCorpus, assert_teachers_verdict, nothing
from torch import nn

from helpers.course.checks import (
    capstone,
    checkpoints,
    devices,
    distributed,
    models,
    training,
    transfer,
)
from helpers.course.checks.distributed import sampler_indices
from helpers.pretrained import build_transfer_model

PROBES = ProbeCorpus()
probe = PROBES.add


# -- 06: numbers at the precision they were written with, arrays where a list is asked --------------------

BATCHES = ([30, 29], [32, 36])  # 59 correct of 68


def batches() -> tuple:
    return BATCHES


for written in (59 / 68, 0.868, 0.87, 0.8676, np.float32(59 / 68), torch.tensor(59 / 68)):
    probe(f"06 weighted_accuracy {written!r}", training.weighted_accuracy, batches, lambda c, s, w=written: w, True)
for written, word in ((0.9, "divide"), (0.86, "divide"), (86.8, "percentage"), ("0.868", "quotes"),
                      ((30 / 32 + 29 / 36) / 2, "mean of the batch accuracies")):
    probe(f"06 weighted_accuracy wrong {written!r}", training.weighted_accuracy, batches,
          lambda c, s, w=written: w, False, word)

RATES = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
for kind, rates in (("list", RATES), ("tuple", tuple(RATES)), ("array", np.array(RATES)),
                    ("tensor", torch.tensor(RATES, dtype=torch.float64)), ("float32 array", np.array(RATES, dtype=np.float32))):
    probe(f"06 halving_rates as {kind}", training.halving_rates, nothing, lambda r=rates: r, True)
for kind, rates, word in (("read after step", np.array(RATES[1:] + [0.0125]), "before calling scheduler.step()"),
                          ("five", np.array(RATES[:5]), "6 rates"), ("2-D", np.array([RATES]), "every entry should be a number"),
                          ("text", str(RATES), "list of 6")):
    probe(f"06 halving_rates wrong {kind}", training.halving_rates, nothing, lambda r=rates: r, False, word)

# -- 12: indices as any array-like --------------------------------------------------------------------------

EPOCH_1 = sampler_indices(8, world_size=2, rank=1, epoch=1)
for kind, indices in (("array", np.array(EPOCH_1)), ("int32 tensor", torch.tensor(EPOCH_1, dtype=torch.int32)),
                      ("numpy ints", [np.int32(i) for i in EPOCH_1]), ("floats", [float(i) for i in EPOCH_1])):
    probe(f"12 second_epoch_indices as {kind}", distributed.second_epoch_indices, nothing, lambda i=indices: i, True)
for kind, indices, word in (("halves", [i + 0.5 for i in EPOCH_1], "list of indices"),
                            ("epoch 0 array", np.array(sampler_indices(8, world_size=2, rank=1, epoch=0)), "set_epoch(1)"),
                            ("rank 0 tensor", torch.tensor(sampler_indices(8, world_size=2, rank=0, epoch=1)), "rank=1")):
    probe(f"12 second_epoch_indices wrong {kind}", distributed.second_epoch_indices, nothing, lambda i=indices: i,
          False, word)

# -- 10 and 11: text answers by their words -----------------------------------------------------------------


for text in ("validation loss", "the one with the lowest validation loss", "val. loss", "Val loss!", "lowest val_loss",
             "the lowest validation-loss epoch", "minimum validation loss", "by the validation loss", "valid loss",
             "the model with the smallest val loss"):
    probe(f"11 model_selection {text!r}", capstone.model_selection, nothing, lambda t=text: t, True)
for text, word in (("test accuracy", "test"), ("the highest test accuracy", "test"), ("training accuracy", "memorising"),
                   ("lowest train loss", "memorising"), ("accuracy", "answer one of")):
    probe(f"11 model_selection wrong {text!r}", capstone.model_selection, nothing, lambda t=text: t, False, word)

# -- 07: a pretend machine and a pretend GPU tensor that behave completely -----------------------------------


def by_is_available():
    return torch.device("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu")


@functools.cache
def cached_choice():
    return by_is_available()


def by_device_count():
    if torch.cuda.device_count() > 0:
        return torch.device("cuda")
    return torch.device("mps") if torch.backends.mps.is_available() else torch.device("cpu")


def by_accelerator():
    found = torch.accelerator.current_accelerator(check_available=True)
    return found if found is not None else torch.device("cpu")


def by_accelerator_is_available():
    return torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")


def as_strings():
    return "cuda:0" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_built()
                                                       and torch.backends.mps.is_available() else "cpu")


for choice in (by_is_available, cached_choice, by_device_count, by_accelerator, by_accelerator_is_available, as_strings):
    probe(f"07 device_choice {choice.__name__}", devices.device_choice, nothing, lambda c=choice: c, True)


def cuda_or_cpu():
    return torch.device("cuda" if torch.cuda.device_count() else "cpu")


def decided_once():
    return torch.device("cpu")


for choice, word in ((cuda_or_cpu, "mps"), (decided_once, "decide inside the function"),
                     (lambda: print("cuda"), "return torch.device")):
    probe(f"07 device_choice wrong {getattr(choice, '__name__', 'print')}", devices.device_choice, nothing,
          lambda c=choice: c, False, word)

for name, convert in (("is_cuda branch", lambda t: (t.cpu() if t.is_cuda else t).detach().numpy()),
                      ("device.type branch", lambda t: (t.detach().cpu() if t.device.type == "cuda" else t.detach()).numpy()),
                      ("to('cpu')", lambda t: t.detach().to("cpu").numpy()),
                      ("to(torch.device('cpu'))", lambda t: t.detach().to(torch.device("cpu")).numpy()),
                      ("force=True", lambda t: t.numpy(force=True)),
                      ("cpu then detach", lambda t: t.cpu().detach().numpy()),
                      ("np.asarray after cpu", lambda t: np.asarray(t.detach().cpu()))):
    probe(f"07 to_numpy {name}", devices.to_numpy, nothing, lambda c=convert: c, True)
for name, convert, word in (("no cpu", lambda t: t.detach().numpy(), ".cpu()"),
                            ("no detach", lambda t: t.cpu().numpy(), ".detach()"),
                            ("checks the wrong flag", lambda t: (t.cpu() if not t.is_cuda else t).detach().numpy(), ".cpu()"),
                            ("a tensor back", lambda t: t.detach().cpu(), "returns a tensor")):
    probe(f"07 to_numpy wrong {name}", devices.to_numpy, nothing, lambda c=convert: c, False, word)

# -- 05: what the exercise prepared, not what the learner's cell left ------------------------------------------


def model_to_tune() -> tuple:
    return (build_transfer_model("resnet18", train_layers=("layer4",)),)


def unfreeze_then_adam(model):
    model.requires_grad_(True)
    return torch.optim.Adam(model.parameters())


def refreeze_layer4_then_adam(model):
    model.layer4.requires_grad_(False)
    return torch.optim.Adam(model.fc.parameters())


probe("05 optimizer_gets_trainable_only by name", transfer.optimizer_gets_trainable_only, model_to_tune,
      lambda m: torch.optim.Adam([p for n, p in m.named_parameters() if n.startswith(("layer4.", "fc."))]), True)
probe("05 optimizer_gets_trainable_only SGD", transfer.optimizer_gets_trainable_only, model_to_tune,
      lambda m: torch.optim.SGD((p for p in m.parameters() if p.requires_grad), lr=0.01, momentum=0.9), True)
probe("05 optimizer_gets_trainable_only wrong unfreeze", transfer.optimizer_gets_trainable_only, model_to_tune,
      unfreeze_then_adam, False, "leave the model as it is")
probe("05 optimizer_gets_trainable_only wrong refreeze", transfer.optimizer_gets_trainable_only, model_to_tune,
      refreeze_layer4_then_adam, False, "leave the model as it is")


def frozen_resnet() -> tuple:
    model = torchvision.models.resnet18(weights=None)
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 2)
    return (model,)


def changes_without_clone(model):
    before = {name: parameter.detach() for name, parameter in model.named_parameters()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 0, 1])).backward()
    optimizer.step()
    return [name for name, parameter in model.named_parameters() if not torch.equal(parameter, before[name])]


def changes_without_backward(model):
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 0, 1]))
    optimizer.step()
    return [name for name, parameter in model.named_parameters() if not torch.equal(parameter, before[name])]


probe("05 changed_by_one_step wrong no clone", transfer.changed_by_one_step, frozen_resnet, changes_without_clone,
      False, ".clone()")
probe("05 changed_by_one_step wrong no backward", transfer.changed_by_one_step, frozen_resnet, changes_without_backward,
      False, "backward() was not called")

# -- 04: the mistakes the loss curve and the model give away ----------------------------------------------------


def broken_model() -> tuple:
    torch.manual_seed(0)
    return (nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Linear(8 * 16 * 16, 2)), 32)


def fixed(broken: nn.Sequential, *extra: nn.Module) -> nn.Sequential:
    return nn.Sequential(broken[0], broken[1], broken[2], nn.Flatten(), broken[3], *extra)


probe("04 fixed_image_model with view", models.fixed_image_model, broken_model,
      lambda b, size: nn.Sequential(b[0], b[1], b[2], nn.Flatten(1), b[3]), True)
probe("04 fixed_image_model wrong Softmax", models.fixed_image_model, broken_model,
      lambda b, size: fixed(b, nn.Softmax(dim=1)), False, "probabilities")
probe("04 fixed_image_model LogSoftmax", models.fixed_image_model, broken_model,
      lambda b, size: fixed(b, nn.LogSoftmax(dim=1)), True)


def memorising_losses(extra: tuple = (), zero_grad: bool = True, steps: int = 50) -> list[float]:
    broken, _ = broken_model()
    model = fixed(broken, *extra)
    torch.manual_seed(0)
    images, labels = torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 0, 1, 1, 0, 0, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


probe("04 memorises_one_batch as array", models.memorises_one_batch, nothing, lambda: np.array(memorising_losses()), True)
probe("04 memorises_one_batch wrong Softmax", models.memorises_one_batch, nothing,
      lambda: memorising_losses((nn.Softmax(dim=1),), steps=100), False, "nn.Softmax")
probe("04 memorises_one_batch wrong no zero_grad", models.memorises_one_batch, nothing,
      lambda: memorising_losses(zero_grad=False), False, "zero_grad")


def exercise_features() -> tuple:
    return (nn.Sequential(nn.Conv2d(3, 8, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)), 48)


probe("04 flattened_size as numpy int", models.flattened_size, exercise_features, lambda f, s: np.int64(16 * 11 * 11), True)
probe("04 flattened_size wrong last pool", models.flattened_size, exercise_features, lambda f, s: 16 * 22 * 22, False,
      "last MaxPool2d")

# -- 08: the property the lesson is about -------------------------------------------------------------------------


def trained_pair() -> tuple:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).sum().backward()
        optimizer.step()
    return model, optimizer, 3


def fresh_optimizer_state(model, optimizer, epoch):
    return {"model": model.state_dict(), "optimizer": torch.optim.Adam(model.parameters(), lr=0.01).state_dict(),
            "epoch": epoch}


def other_learning_rate(model, optimizer, epoch):
    state = optimizer.state_dict()
    state["param_groups"][0]["lr"] = 0.5
    return {"model": model.state_dict(), "optimizer": state, "epoch": epoch}


probe("08 resumable_checkpoint copied state", checkpoints.resumable_checkpoint, trained_pair,
      lambda m, o, e: {"model": {k: v.clone() for k, v in m.state_dict().items()},
                       "optimizer": copy.deepcopy(o.state_dict()), "epoch": e}, True)
probe("08 resumable_checkpoint wrong fresh optimizer", checkpoints.resumable_checkpoint, trained_pair,
      fresh_optimizer_state, False, "new optimizer")
probe("08 resumable_checkpoint wrong settings", checkpoints.resumable_checkpoint, trained_pair, other_learning_rate,
      False, "other settings")


def save_and_copy(obj, path):
    temporary = Path(path).with_suffix(".tmp")
    torch.save(obj, temporary)
    try:
        shutil.copyfile(temporary, path)
    finally:
        temporary.unlink()


def save_with_mkstemp_and_path_replace(obj, path):
    handle, name = tempfile.mkstemp(dir=Path(path).parent)
    os.close(handle)
    try:
        torch.save(obj, name)
        Path(name).replace(path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def save_and_shutil_move(obj, path):
    temporary = Path(path).with_name(Path(path).name + ".partial")
    try:
        torch.save(obj, temporary)
        shutil.move(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


probe("08 atomic_save wrong copyfile", checkpoints.atomic_save, nothing, lambda: save_and_copy, False, "rename")
probe("08 atomic_save mkstemp and Path.replace", checkpoints.atomic_save, nothing,
      lambda: save_with_mkstemp_and_path_replace, True)
probe("08 atomic_save shutil.move beside", checkpoints.atomic_save, nothing, lambda: save_and_shutil_move, True)

# -- any check: code that never ends, or an answer that raises when used ------------------------------------------


def runs_forever(*args):
    while True:
        pass


probe("07 device_choice hangs", devices.device_choice, nothing, lambda: runs_forever, False, "still running")
probe("07 to_numpy hangs", devices.to_numpy, nothing, lambda: runs_forever, False, "still running")
probe("08 atomic_save hangs", checkpoints.atomic_save, nothing, lambda: runs_forever, False, "still running")
probe("12 logs_on_rank_zero hangs", distributed.logs_on_rank_zero, nothing, lambda: runs_forever, False, "still running")


class RaisesWhenRead(list):
    def __iter__(self):
        raise RuntimeError("boom")


probe("06 halving_rates raises", training.halving_rates, nothing, lambda: RaisesWhenRead(), False, "boom")


@pytest.fixture(autouse=True)
def short_time_limit(monkeypatch):
    """Hanging answers are stopped after a second here, not the notebooks' 20 s."""
    for check in (devices.device_choice, devices.to_numpy, checkpoints.atomic_save, distributed.logs_on_rank_zero):
        monkeypatch.setattr(check.__wrapped__, "seconds_allowed", 1.0)


@pytest.mark.parametrize("entry", PROBES, ids=[entry.name for entry in PROBES])
def test_each_answer_gets_the_verdict_a_teacher_would_give(entry):
    assert_teachers_verdict(entry)


def test_the_round_three_corpus_is_large_and_balanced():
    right, wrong = PROBES.counts()
    assert right >= 40 and wrong >= 40, (right, wrong)
