"""Round-4 probes: more answers to the rewritten exercises (issue 26), written as a learner might.

Each probe is one answer with the verdict a teacher would give and, for a wrong answer, a word its hint
must contain: right answers written another way (torch.func, NumPy, another grid, a rounded number),
plausible wrong ones (a shared generator, a hard-coded device, a slope for one function only), and
answers that hang or raise, which must end in a hint, never a traceback or a hang.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torchvision
from probe_corpus import ProbeCorpus, assert_teachers_verdict, nothing
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from helpers.course.checks import capstone, devices, export, loaders, predict, tensors, training, transfer
from helpers.course.checks import transforms as transform_checks
from helpers.transforms import IMAGENET_MEAN, IMAGENET_STD

PROBES = ProbeCorpus()
probe = PROBES.add


def runs_forever(*args: object) -> None:
    for _ in itertools.count():
        pass


def raises(*args: object) -> None:
    raise ValueError("my own bug")


# -- 01 derivative: any function of x, by autograd -----------------------------------------------------------


def slope_by_torch_func(f, x):
    return torch.func.grad(f)(torch.tensor(x))


def slope_with_requires_grad_(f, x):
    x_tensor = torch.as_tensor(x, dtype=torch.float32).requires_grad_()
    y = f(x_tensor)
    y.backward()
    return x_tensor.grad.item()


def slope_returned_in_a_list(f, x):
    x_tensor = torch.tensor(x, requires_grad=True)
    f(x_tensor).backward()
    return [x_tensor.grad]


def slope_of_the_exercise_only(f, x):
    x_tensor = torch.tensor(x, requires_grad=True)
    (x_tensor**3 + 2 * x_tensor).backward()
    return x_tensor.grad


def slope_by_central_difference(f, x, h=1e-2):
    return float((f(torch.tensor(x + h)) - f(torch.tensor(x - h))) / (2 * h))


def slope_of_python_float(f, x):
    return f(x)  # calls torch functions on a float


for name, answer in (("torch.func.grad", slope_by_torch_func), ("requires_grad_()", slope_with_requires_grad_)):
    probe(f"01 derivative {name}", tensors.derivative, nothing, lambda a=answer: a, True)
for name, answer, word in (("in a list", slope_returned_in_a_list, "one number"),
                           ("the exercise's function only", slope_of_the_exercise_only, "by hand"),
                           ("central difference", slope_by_central_difference, "finite difference"),
                           ("on a float", slope_of_python_float, "value of f"),
                           ("hangs", runs_forever, "still running"), ("raises", raises, "my own bug")):
    probe(f"01 derivative wrong {name}", tensors.derivative, nothing, lambda a=answer: a, False, word)


# -- 03 seeded_loader: an order set by the seed alone ---------------------------------------------------------

SHARED_GENERATOR = torch.Generator().manual_seed(0)


class Endless(IterableDataset):
    def __iter__(self):
        return iter(itertools.count())


def seeded_by_a_fresh_generator(dataset, seed):
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(dataset, batch_size=8, shuffle=True, generator=generator)


for name, answer in (("generator set on its own line", seeded_by_a_fresh_generator),
                     ("batches of 4", lambda dataset, seed: DataLoader(
                         dataset, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(seed))),
                     ("seed plus 1000", lambda dataset, seed: DataLoader(
                         dataset, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(seed + 1000)))):
    probe(f"03 seeded_loader {name}", loaders.seeded_loader, nothing, lambda a=answer: a, True)
for name, answer, word in (("one generator for every loader", lambda dataset, seed: DataLoader(
                               dataset, batch_size=8, shuffle=True, generator=SHARED_GENERATOR), "two orders"),
                           ("an endless loader", lambda dataset, seed: DataLoader(Endless(), batch_size=8),
                            "still running"),
                           ("a list of batches", lambda dataset, seed: list(DataLoader(dataset, batch_size=8)),
                            "return a torch.utils.data.DataLoader"),
                           ("raises", raises, "my own bug")):
    probe(f"03 seeded_loader wrong {name}", loaders.seeded_loader, nothing, lambda a=answer: a, False, word)


# -- 05 frozen_efficientnet: the recipe on another family -----------------------------------------------------


def efficientnet_frozen_with(replace: Callable[[nn.Module], None], freeze: Callable[[nn.Module], None] | None = None
                             ) -> nn.Module:
    model = torchvision.models.efficientnet_b0(weights=None)
    (freeze or (lambda m: m.requires_grad_(False)))(model)
    replace(model)
    return model


def set_last(layer: nn.Module) -> Callable[[nn.Module], None]:
    def replace(model: nn.Module) -> None:
        model.classifier[-1] = layer
    return replace


probe("05 frozen_efficientnet requires_grad_ and classifier[-1]", transfer.frozen_efficientnet, nothing,
      lambda: efficientnet_frozen_with(set_last(nn.Linear(1280, 2))), True)
probe("05 frozen_efficientnet a hidden layer in the head", transfer.frozen_efficientnet, nothing,
      lambda: efficientnet_frozen_with(lambda m: setattr(m, "classifier", nn.Sequential(
          nn.Dropout(0.2), nn.Linear(1280, 64), nn.ReLU(), nn.Linear(64, 2)))), True)
probe("05 frozen_efficientnet wrong three classes", transfer.frozen_efficientnet, nothing,
      lambda: efficientnet_frozen_with(set_last(nn.Linear(1280, 3))), False, "3 outputs")
probe("05 frozen_efficientnet wrong ResNet's 512 features", transfer.frozen_efficientnet, nothing,
      lambda: efficientnet_frozen_with(set_last(nn.Linear(512, 2))), False, "1280")
probe("05 frozen_efficientnet wrong only the first block frozen", transfer.frozen_efficientnet, nothing,
      lambda: efficientnet_frozen_with(set_last(nn.Linear(1280, 2)), lambda m: m.features[0].requires_grad_(False)),
      False, "still train")


def changed_after_one_step(model: nn.Module) -> list[str]:
    torch.manual_seed(0)
    images, labels = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 0, 1])
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    return [name for name, parameter in model.named_parameters() if not torch.equal(parameter, before[name])]


def frozen_efficientnet_data() -> tuple:
    return (efficientnet_frozen_with(set_last(nn.Linear(1280, 2))),)


probe("05 changed_by_one_step on the EfficientNet", transfer.changed_by_one_step, frozen_efficientnet_data,
      changed_after_one_step, True)
probe("05 changed_by_one_step EfficientNet, names as a set", transfer.changed_by_one_step, frozen_efficientnet_data,
      lambda model: set(changed_after_one_step(model)), True)
probe("05 changed_by_one_step EfficientNet, the bias forgotten", transfer.changed_by_one_step,
      frozen_efficientnet_data, lambda model: [name for name in changed_after_one_step(model) if "weight" in name],
      False, "the bias included")


# -- 06 seed_verdict: the course's rule, written other ways ---------------------------------------------------


def verdict_with_loops(differences):
    total = 0.0
    for difference in differences:
        total += difference
    mean = total / len(differences)
    spread = math.sqrt(sum((d - mean) ** 2 for d in differences) / (len(differences) - 1))
    positive = [d > 0 for d in differences]
    if all(positive) and mean > 2 * spread:
        return "better"
    if not any(d >= 0 for d in differences) and -mean > 2 * spread:
        return "worse"
    return "tie"


def verdict_with_torch(differences):
    values = torch.tensor(differences, dtype=torch.float64)
    agree = bool((values > 0).all() or (values < 0).all())
    if agree and values.mean().abs() > 2 * values.std():
        return " better " if values.mean() > 0 else "Worse!"
    return "TIE"


def verdict_on_the_median(differences):
    median, spread = statistics.median(differences), statistics.stdev(differences)
    agree = all(d > 0 for d in differences) or all(d < 0 for d in differences)
    if agree and abs(median) > 2 * spread:
        return "better" if median > 0 else "worse"
    return "tie"


for name, answer in (("with loops", verdict_with_loops), ("with torch, any case and spacing", verdict_with_torch)):
    probe(f"06 seed_verdict {name}", training.seed_verdict, nothing, lambda a=answer: a, True)
for name, answer, word in (("a boolean for better", lambda d: statistics.mean(d) > 2 * statistics.stdev(d),
                            'return "better"'),
                           ("the median instead of the mean", verdict_on_the_median, "the rule gives"),
                           ("a sentence", lambda d: "it is a tie", 'return "better"'),
                           ("hangs", runs_forever, "still running"), ("raises", raises, "my own bug")):
    probe(f"06 seed_verdict wrong {name}", training.seed_verdict, nothing, lambda a=answer: a, False, word)


# -- 07 on_model_device: wherever the model lives -------------------------------------------------------------


def device_of_first_buffer_or_parameter(model, inputs):
    tensor = next(itertools.chain(model.parameters(), model.buffers()))
    return model(inputs.to(tensor.device, non_blocking=True))


for name, answer in (("parameters().__next__()", lambda model, inputs: model(
                         inputs.to(model.parameters().__next__().device))),
                     ("non_blocking, from parameters or buffers", device_of_first_buffer_or_parameter)):
    probe(f"07 on_model_device {name}", devices.on_model_device, nothing, lambda a=answer: a, True)
for name, answer, word in (("meta hard-coded", lambda model, inputs: model(inputs.to("meta")), "do not name a device"),
                           ("cuda hard-coded", lambda model, inputs: model(inputs.cuda()), "do not name a device"),
                           ("model moved to the CPU", lambda model, inputs: model.cpu()(inputs), "moved the model"),
                           ("hangs", runs_forever, "still running")):
    probe(f"07 on_model_device wrong {name}", devices.on_model_device, nothing, lambda a=answer: a, False, word)


# -- 09 predict_picture: the whole pipeline in one function ---------------------------------------------------


def predict_with_numpy_transpose(model, picture):
    image = torch.tensor(np.transpose(picture, (2, 0, 1)) / 255.0, dtype=torch.float32)
    model.eval()
    with torch.inference_mode():
        probabilities = torch.softmax(model(image[None]), dim=1).squeeze(0)
    index = probabilities.argmax().item()
    return index, probabilities[index].item()


def predict_with_v2(model, picture):
    from torchvision.transforms import v2
    to_input = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    model.eval()
    with torch.no_grad():
        probabilities = model(to_input(picture).unsqueeze(0)).softmax(dim=1)
    return probabilities.argmax(dim=1).item(), probabilities.max().item()


def predict_over_the_wrong_dimension(model, picture):
    image = torch.from_numpy(picture).permute(2, 0, 1).float() / 255
    model.eval()
    with torch.no_grad():
        probabilities = model(image.unsqueeze(0)).softmax(dim=0)[0]
    return int(probabilities.argmax()), float(probabilities.max())


for name, answer in (("NumPy transpose and inference_mode", predict_with_numpy_transpose), ("v2 pipeline", predict_with_v2)):
    probe(f"09 predict_picture {name}", predict.predict_picture, nothing, lambda a=answer: a, True)
for name, answer, word in (("softmax over the batch dimension", predict_over_the_wrong_dimension, "the model predicts"),
                           ("hangs", runs_forever, "still running"), ("raises", raises, "my own bug")):
    probe(f"09 predict_picture wrong {name}", predict.predict_picture, nothing, lambda a=answer: a, False, word)


# -- 10 breaks_the_trace and exported_batches ---------------------------------------------------------------

for name, answer in (("one large value", lambda: torch.tensor([1.5])), ("random numbers above 1", lambda: torch.rand(5) + 1),
                     ("float64", lambda: torch.tensor([2.0, 3.0], dtype=torch.float64))):
    probe(f"10 breaks_the_trace {name}", export.breaks_the_trace, nothing, answer, True)
for name, answer, word in (("all ones", lambda: torch.ones(3), "exactly 1"), ("a NumPy array", lambda: np.array([2.0]), "tensor"),
                           ("NaN", lambda: torch.tensor([float("nan")]), "NaN")):
    probe(f"10 breaks_the_trace wrong {name}", export.breaks_the_trace, nothing, answer, False, word)


def tiny_model() -> tuple:
    torch.manual_seed(0)
    return (nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval(),)


probe("10 exported_batches with strict=False", export.exported_batches, tiny_model,
      lambda tiny: torch.export.export(tiny, (torch.randn(6, 4),), dynamic_shapes=({0: torch.export.Dim("b", max=64)},),
                                       strict=False), True)
probe("10 exported_batches wrong TorchScript", export.exported_batches, tiny_model,
      lambda tiny: torch.jit.script(tiny), False, "TorchScript")
probe("10 exported_batches wrong only the graph module", export.exported_batches, tiny_model,
      lambda tiny: torch.export.export(tiny, (torch.randn(6, 4),)).module(), False, "expected the program")


# -- 11 threshold_for_recall and screening_at_threshold -----------------------------------------------------


def threshold_with_numpy(scores, is_parasitized, target):
    positives = np.sort(scores.numpy()[is_parasitized.numpy()])[::-1]
    needed = next(count for count in range(1, len(positives) + 1) if count / len(positives) >= target)
    return float(positives[needed - 1])


def threshold_by_precision(scores, is_parasitized, target):
    best = 0.0
    for threshold in scores.unique().tolist():
        flagged = scores >= threshold
        if flagged.sum() and (flagged & is_parasitized).sum().item() / flagged.sum().item() >= target:
            best = max(best, threshold)
    return best


probe("11 threshold_for_recall NumPy", capstone.threshold_for_recall, nothing, lambda: threshold_with_numpy, True)
probe("11 threshold_for_recall a 0-d tensor", capstone.threshold_for_recall, nothing,
      lambda: lambda s, p, t: torch.tensor(threshold_with_numpy(s, p, t)), True)
for name, answer, word in (("precision instead of recall", threshold_by_precision, "below the target"),
                           ("hangs", runs_forever, "still running"), ("raises", raises, "my own bug")):
    probe(f"11 threshold_for_recall wrong {name}", capstone.threshold_for_recall, nothing, lambda a=answer: a, False, word)


def screening_data() -> tuple:
    generator = torch.Generator().manual_seed(8)

    def part(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        is_parasitized = torch.rand(count, generator=generator) < 0.4
        return is_parasitized.float() * 0.3 + torch.rand(count, generator=generator) * 0.7, is_parasitized

    (valid_scores, valid_is_parasitized), (test_scores, test_is_parasitized) = part(300), part(500)
    return valid_scores, valid_is_parasitized, test_scores, test_is_parasitized, 0.98


def screened(valid_scores, valid_is_parasitized, test_scores, test_is_parasitized, target):
    threshold = threshold_with_numpy(valid_scores, valid_is_parasitized, target)
    flagged = test_scores >= threshold
    return (threshold, flagged[test_is_parasitized].float().mean().item(),
            flagged[~test_is_parasitized].float().mean().item())


probe("11 screening_at_threshold a list", capstone.screening_at_threshold, screening_data,
      lambda *data: list(screened(*data)), True)
probe("11 screening_at_threshold percentages rounded to 3 decimals", capstone.screening_at_threshold, screening_data,
      lambda *data: tuple(round(value, 3) for value in screened(*data)), True)
probe("11 screening_at_threshold wrong recall as a percentage", capstone.screening_at_threshold, screening_data,
      lambda *data: (screened(*data)[0], 100 * screened(*data)[1], screened(*data)[2]), False, "test recall is")
probe("11 screening_at_threshold wrong one text", capstone.screening_at_threshold, screening_data,
      lambda *data: "0.3, 0.98, 0.4", False, "three numbers")


# -- in-place answers: right ones pass, and a wrong one is not judged against the data it destroyed ------------


def notebook_marks() -> tuple:
    return (torch.tensor([[60.0, 72, 90], [75, 80, 85], [50, 64, 70], [90, 88, 95], [65, 71, 80]]),)


def notebook_normalized() -> tuple:
    pixels = torch.rand(3, 4, 3, generator=torch.Generator().manual_seed(0))
    return (torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(pixels),)


probe("01 centred_columns in place", tensors.centred_columns, notebook_marks, lambda marks: marks.sub_(marks.mean(0)), True)
probe("01 centred_columns wrong zeroed in place", tensors.centred_columns, notebook_marks, lambda marks: marks.zero_(),
      False, "values changed")
probe("02 undo_normalize in place", transform_checks.undo_normalize, notebook_normalized,
      lambda normalized: normalized.mul_(torch.tensor(IMAGENET_STD).view(3, 1, 1)).add_(
          torch.tensor(IMAGENET_MEAN).view(3, 1, 1)), True)
probe("02 undo_normalize wrong mean added in place", transform_checks.undo_normalize, notebook_normalized,
      lambda normalized: normalized.add_(torch.tensor(IMAGENET_MEAN).view(3, 1, 1)), False, "both steps")


HANGING = (tensors.derivative, loaders.seeded_loader, training.seed_verdict, devices.on_model_device,
           predict.predict_picture, capstone.threshold_for_recall)


@pytest.fixture(autouse=True)
def short_time_limit(monkeypatch):
    """Hanging answers are stopped after a second here, not the notebooks' 20 s."""
    for check in HANGING:
        monkeypatch.setattr(check.__wrapped__, "seconds_allowed", 1.0)


@pytest.mark.parametrize("entry", PROBES, ids=[entry.name for entry in PROBES])
def test_each_answer_gets_the_verdict_a_teacher_would_give(entry):
    assert_teachers_verdict(entry)


def test_the_round_four_corpus_is_large_and_balanced():
    right, wrong = PROBES.counts()
    assert right >= 20 and wrong >= 30, (right, wrong)
