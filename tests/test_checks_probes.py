"""The probe corpus: for every exercise, typical wrong answers and correct alternatives.

Each exercise gets its data (made as the notebook makes it), its reference solution, at least two
other correct answers a learner could reasonably write (all must pass), and at least three typical
wrong answers, each with a word its hint must contain (all must fail, with that hint). The wrong
answers come from what learners do on the forums of similar courses and from the mistakes the
notebooks themselves teach.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import statistics
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset
from torchvision import transforms
from torchvision.transforms import v2

from helpers.checkpoints import save_atomically
from helpers.course import facts
from helpers.course.checks import (
    UNANSWERED_HINT,
    capstone,
    checkpoints,
    devices,
    distributed,
    export,
    judge,
    loaders,
    models,
    predict,
    start,
    tensors,
    training,
    transfer,
)
from helpers.course.checks import transforms as transform_checks
from helpers.data import patient_of, random_split
from helpers.devices import choose_device, tensor_megabytes
from helpers.distributed import RunConfig, make_regression_data, make_tiny_model, train_single_process
from helpers.models import conv_output_size, trainable_parameters
from helpers.pretrained import build_transfer_model
from helpers.synthetic import make_synthetic_cells
from helpers.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize, eval_transforms

Answer = Callable[..., object]
"""An answer, made from the exercise's data (so that it can use them, as a learner's cell does)."""


@dataclass
class Exercise:
    """One exercise: its check, its data, the reference solution, correct alternatives and wrong answers."""

    notebook: str
    check: Callable
    data: Callable[[], tuple]
    reference: Answer
    alternatives: list[Answer]
    wrong: list[tuple[Answer, str]]


# -- notebook 00 --------------------------------------------------------------------------------------------


def loader_answers() -> list[Answer]:
    return [lambda numbers: DataLoader(numbers, batch_size=4, shuffle=True),
            lambda numbers: DataLoader(TensorDataset(numbers), batch_size=4),
            lambda numbers: DataLoader(list(range(10)), 4)]


EXERCISES: dict[str, Exercise] = {}


def exercise(name: str, **fields: object) -> None:
    EXERCISES[name] = Exercise(**fields)


exercise("00 first_tensor", notebook="00", check=start.first_tensor, data=lambda: (),
         reference=lambda: torch.arange(1, 7).reshape(2, 3),
         alternatives=[lambda: torch.tensor([[1, 2, 3], [4, 5, 6]]), lambda: torch.tensor([[1.0, 2, 3], [4, 5, 6]]),
                       lambda: torch.arange(1, 7).view(2, -1)],
         wrong=[(lambda: [[1, 2, 3], [4, 5, 6]], "torch.tensor"), (lambda: torch.arange(1, 7), "shape (2, 3)"),
                (lambda: torch.arange(6).reshape(2, 3), "1 to 6"), (lambda: torch.arange(1, 7).reshape(3, 2), "(2, 3)"),
                (lambda: "[[1, 2, 3], [4, 5, 6]]", "torch.tensor")])
exercise("00 sum_shape", notebook="00", check=start.sum_shape, data=lambda: (), reference=lambda: (3,),
         alternatives=[lambda: [3], lambda: torch.zeros(2, 3).sum(dim=0).shape, lambda: torch.Size([3])],
         wrong=[(lambda: (2,), "dim=0"), (lambda: (1, 3), "keepdim"), (lambda: 3, "tuple"), (lambda: "(3,)", "quotes"),
                (lambda: (), ".sum()"), (lambda: torch.zeros(2, 3).sum(dim=0), "its shape")])
exercise("00 batches_of_four", notebook="00", check=start.batches_of_four, data=lambda: (torch.arange(10),),
         reference=lambda numbers: DataLoader(numbers, batch_size=4), alternatives=loader_answers(),
         wrong=[(lambda numbers: DataLoader, "make a loader"), (lambda numbers: "DataLoader", "quotes"),
                (lambda numbers: DataLoader(numbers), "batch_size=4"),
                (lambda numbers: DataLoader(numbers, batch_size=4, drop_last=True), "drop_last"),
                (lambda numbers: DataLoader(torch.arange(12), batch_size=4), "drop_last=True throws"),
                (lambda numbers: list(DataLoader(numbers, batch_size=4)), "DataLoader")])

# -- notebook 01 --------------------------------------------------------------------------------------------

exercise("01 product_shape", notebook="01", check=tensors.product_shape, data=lambda: (),
         reference=lambda: (16, 10),
         alternatives=[lambda: [16, 10], lambda: (torch.rand(16, 28, 28).reshape(16, -1) @ torch.rand(10, 784).T).shape],
         wrong=[(lambda: (10, 16), "rows of the result"), (lambda: (16, 784), "shared 784"),
                (lambda: (784, 10), "shared 784"), (lambda: (16, 28, 28), "flattens"), (lambda: "16, 10", "quotes"),
                (lambda: 160, "tuple")])


def marks() -> torch.Tensor:
    return torch.tensor([[60.0, 72, 90], [75, 80, 85], [50, 64, 70], [90, 88, 95], [65, 71, 80]])


exercise("01 centred_columns", notebook="01", check=tensors.centred_columns, data=lambda: (marks(),),
         reference=lambda m: m - m.mean(dim=0),
         alternatives=[lambda m: m - m.mean(dim=0, keepdim=True), lambda m: m - m.mean(0).unsqueeze(0),
                       lambda m: (m.T - m.T.mean(dim=1, keepdim=True)).T, lambda m: torch.sub(m, m.mean(axis=0))],
         wrong=[(lambda m: m - m.mean(), "each column needs its own"),
                (lambda m: m - m.mean(dim=1, keepdim=True), "dim=1"),
                (lambda m: m.mean(dim=0), "expected shape (5, 3)"), (lambda m: m.tolist(), "expected a tensor"),
                (lambda m: (m - m.mean(dim=0)) / m.std(dim=0), "only subtract")])


# -- notebook 02 --------------------------------------------------------------------------------------------


def classic_pipeline(*steps: object) -> transforms.Compose:
    return transforms.Compose(list(steps))


RESIZE, CROP = transforms.Resize(146), transforms.CenterCrop(128)
exercise("02 eval_pipeline_128", notebook="02", check=transform_checks.eval_pipeline_128, data=lambda: (),
         reference=lambda: classic_pipeline(RESIZE, CROP, transforms.ToTensor(),
                                            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)),
         alternatives=[lambda: eval_transforms(128),
                       lambda: v2.Compose([v2.Resize(146, antialias=True), v2.CenterCrop(128), v2.ToImage(),
                                           v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]),
                       lambda: classic_pipeline(transforms.Resize(round(128 * 255 / 224)), transforms.CenterCrop((128, 128)),
                                                transforms.ToTensor(),
                                                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]))],
         wrong=[(lambda: classic_pipeline(RESIZE, CROP, transforms.ToTensor()), "Normalize"),
                (lambda: classic_pipeline(transforms.RandomResizedCrop(128), transforms.ToTensor(),
                                          transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)), "random"),
                (lambda: classic_pipeline(transforms.Resize(128), transforms.ToTensor(),
                                          transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)), "(3, 128, 128)"),
                (lambda: classic_pipeline(RESIZE, CROP, transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
                                          transforms.ToTensor()), "only then Normalize"),
                (lambda: classic_pipeline(RESIZE, CROP), "ToTensor()"),
                (lambda: classic_pipeline(RESIZE, CROP, transforms.ToTensor(),
                                          transforms.Normalize(IMAGENET_STD, IMAGENET_MEAN)), "swapped"),
                (lambda: classic_pipeline(transforms.Resize((128, 128)), transforms.ToTensor(),
                                          transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)), "aspect ratio"),
                (lambda: "Compose", "expected a transform")])


def photo() -> np.ndarray:
    return np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10


exercise("02 to_tensor_by_hand", notebook="02", check=transform_checks.to_tensor_by_hand, data=lambda: (photo(),),
         reference=lambda p: torch.from_numpy(p).permute(2, 0, 1).float() / 255,
         alternatives=[lambda p: torch.tensor(p).permute(2, 0, 1) / 255,
                       lambda p: torch.from_numpy(p.transpose(2, 0, 1)).float().div(255),
                       lambda p: transforms.ToTensor()(p), lambda p: torch.from_numpy(p).permute(2, 0, 1).double() / 255.0],
         wrong=[(lambda p: torch.from_numpy(p).float() / 255, "channels first"),
                (lambda p: torch.from_numpy(p).permute(2, 0, 1).float(), "255"),
                (lambda p: torch.from_numpy(p).reshape(3, 2, 4).float() / 255, "permute"),
                (lambda p: torch.from_numpy(p).permute(2, 0, 1), "float"),
                (lambda p: p.transpose(2, 0, 1) / 255, "torch.from_numpy"),
                (lambda p: torch.from_numpy(p).permute(2, 1, 0).float() / 255, "channels first")])


def normalized_pixels() -> torch.Tensor:
    pixels = torch.rand(3, 4, 3, generator=torch.Generator().manual_seed(0))
    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(pixels)


def column(values: tuple[float, ...]) -> torch.Tensor:
    return torch.tensor(values).view(3, 1, 1)


exercise("02 undo_normalize", notebook="02", check=transform_checks.undo_normalize, data=lambda: (normalized_pixels(),),
         reference=lambda n: n * column(IMAGENET_STD) + column(IMAGENET_MEAN),
         alternatives=[lambda n: denormalize(n),
                       lambda n: n * torch.tensor(IMAGENET_STD)[:, None, None] + torch.tensor(IMAGENET_MEAN)[:, None, None],
                       lambda n: torch.stack([n[c] * IMAGENET_STD[c] + IMAGENET_MEAN[c] for c in range(3)]),
                       lambda n: transforms.Normalize([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)],
                                                      [1 / s for s in IMAGENET_STD])(n)],
         wrong=[(lambda n: n * column(IMAGENET_MEAN) + column(IMAGENET_STD), "swapped"),
                (lambda n: (n - column(IMAGENET_MEAN)) / column(IMAGENET_STD), "second time"),
                (lambda n: n * torch.tensor(IMAGENET_STD) + torch.tensor(IMAGENET_MEAN), "(3, 1, 1)"),
                (lambda n: n * column(IMAGENET_STD), "both steps"), (lambda n: n + column(IMAGENET_MEAN), "both steps"),
                (lambda n: 1.0 * IMAGENET_STD[0] + IMAGENET_MEAN[0], "expected a tensor")])

# -- notebook 03 --------------------------------------------------------------------------------------------


CELLS: list[Path] = []
"""The synthetic cell folder notebook 03's dataset reads, made once by the fixture below."""


@pytest.fixture(autouse=True, scope="module")
def cells_folder(tmp_path_factory):
    CELLS[:] = [make_synthetic_cells(tmp_path_factory.mktemp("cells") / "c", per_class=6, seed=0)]


class Reference(Dataset):
    def __init__(self, samples, transform):
        self.samples, self.transform = samples, transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label = self.samples[index]
        return self.transform(Image.open(path).convert("RGB")), label


def dataset_class(get_item: Callable | None = None, length: bool = True, base: type = Dataset) -> type:
    """A learner's CellDataset: the reference with one method swapped or taken away."""
    body = {"__init__": Reference.__init__, "__getitem__": get_item or Reference.__getitem__}
    if length:
        body["__len__"] = Reference.__len__
    return type("CellDataset", (base,), body)


def with_context_manager(self, index):
    path, label = self.samples[index]
    with Image.open(path) as picture:
        return self.transform(picture.convert("RGB")), label


def with_default_loader(self, index):
    from torchvision.datasets.folder import default_loader
    path, label = self.samples[index]
    return self.transform(default_loader(path)), torch.tensor(label)


def without_rgb(self, index):
    path, label = self.samples[index]
    return self.transform(Image.open(path)), label


def without_transform(self, index):
    path, label = self.samples[index]
    return Image.open(path).convert("RGB"), label


def label_first(self, index):
    path, label = self.samples[index]
    return label, self.transform(Image.open(path).convert("RGB"))


def path_instead(self, index):
    return self.samples[index]


def image_only(self, index):
    return self.transform(Image.open(self.samples[index][0]).convert("RGB"))


exercise("03 cell_dataset", notebook="03", check=loaders.cell_dataset, data=lambda: (),
         reference=lambda: dataset_class(),
         alternatives=[lambda: dataset_class(with_context_manager), lambda: dataset_class(with_default_loader),
                       lambda: dataset_class(base=object)],
         wrong=[(lambda: dataset_class(without_rgb), "convert('RGB')"), (lambda: dataset_class(without_transform), "self.transform"),
                (lambda: dataset_class(label_first), "wrong way round"), (lambda: dataset_class(path_instead), "open the picture"),
                (lambda: dataset_class(length=False), "__len__"), (lambda: dataset_class(image_only), "(image, label)"),
                (lambda: dataset_class()([], None), "the class itself")])


def leaky_data() -> tuple:
    counts = [7, 5, 4, 2, 4, 2, 4, 7, 5, 7, 1, 2]
    files = [f"C{p}P{p}thinF_IMG_cell_{c}.png" for p, n in enumerate(counts, start=1) for c in range(n)]
    return files, random_split(len(files), seed=0)


def patients(files: list[str], indices: list[int]) -> set[str]:
    return {patient_of(files[i]) for i in indices}


exercise("03 shared_patients", notebook="03", check=loaders.shared_patients, data=leaky_data,
         reference=lambda files, parts: len(patients(files, parts.train) & patients(files, parts.test)),
         alternatives=[lambda files, parts: len(patients(files, parts.test).intersection(patients(files, parts.train))),
                       lambda files, parts: sum(1 for p in patients(files, parts.test) if p in patients(files, parts.train)),
                       lambda files, parts: np.int64(len(patients(files, parts.train) & patients(files, parts.test)))],
         wrong=[(lambda files, parts: sum(1 for i in parts.test if patient_of(files[i]) in patients(files, parts.train)),
                 "counts test cells"),
                (lambda files, parts: len(patients(files, parts.train) & patients(files, parts.valid)), "validation"),
                (lambda files, parts: len(patients(files, parts.test)), "intersection"),
                (lambda files, parts: 0, "leaks"), (lambda files, parts: "2", "quotes"),
                (lambda files, parts: patients(files, parts.train) & patients(files, parts.test), "whole number")])

# -- notebook 04 --------------------------------------------------------------------------------------------


def digits(**layers: nn.Module) -> nn.Sequential:
    named = OrderedDict([("fc1", nn.Linear(784, 128)), ("relu", nn.ReLU()), ("fc2", nn.Linear(128, 10)),
                         ("output", nn.LogSoftmax(dim=1))])
    named.update(layers)
    return nn.Sequential(named)


def digits_by_add_module() -> nn.Sequential:
    model = nn.Sequential()
    for name, layer in digits().named_children():
        model.add_module(name, layer)
    return model


exercise("04 digits_classifier", notebook="04", check=models.digits_classifier, data=lambda: (), reference=digits,
         alternatives=[lambda: digits(output=nn.LogSoftmax(dim=-1)), digits_by_add_module,
                       lambda: nn.Sequential(OrderedDict(fc1=nn.Linear(784, 128), relu=nn.ReLU(), fc2=nn.Linear(128, 10),
                                                         output=nn.LogSoftmax(1)))],
         wrong=[(lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.LogSoftmax(dim=1)), "OrderedDict"),
                (lambda: digits(fc2=nn.Linear(128, 2)), "nn.Linear(128, 10)"), (lambda: digits(output=nn.Softmax(dim=1)), "LogSoftmax"),
                (lambda: digits(output=nn.LogSoftmax(dim=0)), "across the classes"), (lambda: nn.Linear(784, 10), "nn.Sequential"),
                (lambda: digits(relu=nn.Sigmoid()), "nn.ReLU()")])


def exercise_features() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def side() -> int:
    return conv_output_size(conv_output_size(conv_output_size(conv_output_size(48, 5), 2, 2), 3, 1, 1), 2, 2)


exercise("04 flattened_size", notebook="04", check=models.flattened_size, data=lambda: (exercise_features(), 48),
         reference=lambda f, s: 16 * side() * side(),
         alternatives=[lambda f, s: f(torch.zeros(1, 3, 48, 48)).flatten(1).shape[1], lambda f, s: np.int64(1936),
                       lambda f, s: f(torch.zeros(2, 3, 48, 48))[0].numel(), lambda f, s: 1936.0],
         wrong=[(lambda f, s: side() * side(), "channels"), (lambda f, s: 16 * 12 * 12, "shrinks the picture by 4"),
                (lambda f, s: "1936", "quotes"), (lambda f, s: 16 * 24 * 24, "MaxPool2d(2) halves"),
                (lambda f, s: f(torch.zeros(1, 3, 48, 48)).shape, "whole number")])


def broken_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Linear(8 * 16 * 16, 2))


class FlattenInForward(nn.Module):
    def __init__(self, broken: nn.Sequential):
        super().__init__()
        self.features, self.head = broken[:3], broken[3]

    def forward(self, x):
        return self.head(self.features(x).view(x.size(0), -1))


exercise("04 fixed_image_model", notebook="04", check=models.fixed_image_model, data=lambda: (broken_model(), 32),
         reference=lambda b, s: nn.Sequential(b[0], b[1], b[2], nn.Flatten(), b[3]),
         alternatives=[lambda b, s: nn.Sequential(*list(b)[:3], nn.Flatten(start_dim=1), b[3]),
                       lambda b, s: b.insert(3, nn.Flatten()), lambda b, s: FlattenInForward(b),
                       lambda b, s: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                                  nn.Linear(2048, 2))],
         wrong=[(lambda b, s: b, "nn.Flatten()"),
                (lambda b, s: nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2)), "lost Conv2d"),
                (lambda b, s: nn.Sequential(b[0], b[1], nn.Flatten(), nn.Linear(8 * 32 * 32, 2)), "lost MaxPool2d, Linear"),
                (lambda b, s: nn.Sequential(b[0], b[1], b[2], nn.Flatten(start_dim=0), b[3]), "batch dimension"),
                (lambda b, s: nn.Sequential(b[0], b[1], b[2], nn.Flatten(), nn.Linear(2048, 3)), "(4, 2)"),
                (lambda b, s: "nn.Flatten()", "nn.Module")])


def losses_of(lr: float = 1e-3, steps: int = 50, step: bool = True, item: bool = True, sign: float = 1.0) -> list:
    torch.manual_seed(0)
    images, labels = torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 0, 1, 1, 0, 0, 1])
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2048, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        (sign * loss).backward()
        if step:
            optimizer.step()
        losses.append(loss.item() if item else loss)
    return losses


exercise("04 memorises_one_batch", notebook="04", check=models.memorises_one_batch, data=lambda: (),
         reference=losses_of,
         alternatives=[lambda: losses_of(item=False), lambda: tuple(losses_of(steps=80)), lambda: losses_of(lr=3e-3),
                       lambda: np.array(losses_of())],
         wrong=[(lambda: losses_of(step=False), "never moves"), (lambda: losses_of()[-1], "one loss"),
                (lambda: losses_of(steps=5), "only 5 steps"), (lambda: losses_of(lr=1e-6), "train longer"),
                (lambda: [str(loss) for loss in losses_of()], "loss.item()"), (lambda: losses_of(sign=-1.0), "went up")])

# -- notebook 05 --------------------------------------------------------------------------------------------


def resnet(freeze: bool = True, head: nn.Module | None = None, freeze_after: bool = False) -> nn.Module:
    model = torchvision.models.resnet18(weights=None)
    if freeze and not freeze_after:
        model.requires_grad_(False)
    model.fc = head if head is not None else nn.Linear(model.fc.in_features, 2)
    if freeze_after:
        model.requires_grad_(False)
    return model


def model_to_tune() -> tuple:
    return (build_transfer_model("resnet18", train_layers=("layer4",)),)


exercise("05 optimizer_gets_trainable_only", notebook="05", check=transfer.optimizer_gets_trainable_only, data=model_to_tune,
         reference=lambda m: torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3),
         alternatives=[lambda m: torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters())),
                       lambda m: torch.optim.Adam(trainable_parameters(m)),
                       lambda m: torch.optim.Adam([{"params": m.layer4.parameters(), "lr": 1e-4},
                                                   {"params": m.fc.parameters(), "lr": 1e-3}])],
         wrong=[(lambda m: torch.optim.Adam(m.parameters()), "frozen tensors"),
                (lambda m: torch.optim.Adam(m.fc.parameters()), "layer4"),
                (lambda m: torch.optim.Adam(build_transfer_model("resnet18").fc.parameters()), "another model"),
                (lambda m: torch.optim.Adam, "torch.optim"), (lambda m: [p for p in m.parameters() if p.requires_grad], "optimizer")])


def one_step_changes(model: nn.Module, compare_state: bool = False, step: bool = True, lr: float = 1e-3) -> list[str]:
    torch.manual_seed(0)
    images, labels = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 0, 1])
    snapshot = model.state_dict if compare_state else lambda: dict(model.named_parameters())
    before = {name: value.detach().clone() for name, value in snapshot().items()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(images), labels).backward()
    if step:
        optimizer.step()
    return [name for name, value in snapshot().items() if not torch.equal(value, before[name])]


exercise("05 changed_by_one_step", notebook="05", check=transfer.changed_by_one_step, data=lambda: (resnet(),),
         reference=lambda m: one_step_changes(m),
         alternatives=[lambda m: set(one_step_changes(m)), lambda m: tuple(reversed(one_step_changes(m))),
                       lambda m: ["fc.weight", "fc.bias"]],
         wrong=[(lambda m: one_step_changes(m, compare_state=True), "buffers"), (lambda m: one_step_changes(m, step=False), "nothing changed"),
                (lambda m: one_step_changes(m.requires_grad_(True)), "not frozen"), (lambda m: ["fc.weight"], "the bias"),
                (lambda m: "fc.weight, fc.bias", "list of names"), (lambda m: 2, "list of parameter names")])

# -- notebook 06 --------------------------------------------------------------------------------------------


def five_steps(model, images, labels, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def zero_grad_last(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def with_train_mode(model, images, labels, loss_fn, optimizer):
    model.train()
    optimizer.zero_grad()
    outputs = model(images)
    loss = loss_fn(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss.detach()


def no_zero_grad(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def no_return(model, images, labels, loss_fn, optimizer):
    five_steps(model, images, labels, loss_fn, optimizer)


def zero_between(model, images, labels, loss_fn, optimizer):
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss


def step_before_backward(model, images, labels, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    optimizer.step()
    loss.backward()
    return loss


def returns_outputs(model, images, labels, loss_fn, optimizer):
    five_steps(model, images, labels, loss_fn, optimizer)
    return model(images)


def wrong_arguments(model, images, labels):
    return None


exercise("06 training_step", notebook="06", check=training.training_step, data=lambda: (), reference=lambda: five_steps,
         alternatives=[lambda: zero_grad_last, lambda: with_train_mode,
                       lambda: lambda model, images, labels, loss_fn, optimizer: five_steps(model, images, labels, loss_fn, optimizer).item()],
         wrong=[(lambda: no_zero_grad, "zero_grad() at the start"), (lambda: no_return, "returns None"),
                (lambda: zero_between, "did not change"), (lambda: step_before_backward, "and then optimizer.step()"),
                (lambda: returns_outputs, "return the loss"), (lambda: wrong_arguments, "TypeError"),
                (lambda: five_steps(nn.Linear(4, 3), torch.randn(2, 4), torch.tensor([0, 1]), nn.CrossEntropyLoss(),
                                    torch.optim.SGD(nn.Linear(4, 3).parameters(), lr=0.1)), "expected a function")])


BATCHES = ([30, 28, 1], [32, 32, 4])
exercise("06 weighted_accuracy", notebook="06", check=training.weighted_accuracy, data=lambda: BATCHES,
         reference=lambda c, s: sum(c) / sum(s),
         alternatives=[lambda c, s: np.sum(c) / np.sum(s), lambda c, s: torch.tensor(c).sum() / torch.tensor(s).sum(),
                       lambda c, s: 59 / 68, lambda c, s: round(59 / 68, 4)],
         wrong=[(lambda c, s: sum(a / b for a, b in zip(c, s)) / 3, "mean of the batch accuracies"),
                (lambda c, s: 100 * 59 / 68, "percentage"), (lambda c, s: 59 / 96, "every batch is full"),
                (lambda c, s: "0.8676", "quotes"), (lambda c, s: 59, "divide")])


def scheduled_rates(step_size: int = 2, read_after: bool = False, step_scheduler: bool = True, epochs: int = 6) -> list:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.5)
    rates = []
    for _ in range(epochs):
        if not read_after:
            rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if step_scheduler:
            scheduler.step()
        if read_after:
            rates.append(optimizer.param_groups[0]["lr"])
    return rates


exercise("06 halving_rates", notebook="06", check=training.halving_rates, data=lambda: (), reference=scheduled_rates,
         alternatives=[lambda: tuple(scheduled_rates()), lambda: [0.1, 0.1, 0.05, 0.05, 0.025, 0.025],
                       lambda: [torch.tensor(rate) for rate in scheduled_rates()]],
         wrong=[(lambda: scheduled_rates(read_after=True), "start of the epoch"), (lambda: scheduled_rates(step_size=1), "step_size=2"),
                (lambda: scheduled_rates(step_scheduler=False), "never changes"), (lambda: scheduled_rates(epochs=5), "6 rates"),
                (lambda: 0.025, "list")])
CURVE = ([0.69, 0.52, 0.41, 0.33, 0.27, 0.21, 0.16, 0.12, 0.09, 0.07],
         [0.68, 0.55, 0.46, 0.43, 0.45, 0.49, 0.55, 0.61, 0.68, 0.74])
exercise("06 epoch_to_keep", notebook="06", check=training.epoch_to_keep, data=lambda: CURVE,
         reference=lambda t, v: v.index(min(v)) + 1,
         alternatives=[lambda t, v: 4, lambda t, v: int(np.argmin(v)) + 1, lambda t, v: torch.tensor(v).argmin() + 1],
         wrong=[(lambda t, v: 10, "memorising"), (lambda t, v: 3, "from 0"), (lambda t, v: "4", "quotes"),
                (lambda t, v: 1, "lowest"), (lambda t, v: min(v), "lowest")])

# -- notebook 07 --------------------------------------------------------------------------------------------


def best_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


exercise("07 device_choice", notebook="07", check=devices.device_choice, data=lambda: (), reference=lambda: best_device,
         alternatives=[lambda: lambda: choose_device("auto"),
                       lambda: lambda: "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu"),
                       lambda: lambda: torch.device("cuda:0" if torch.cuda.is_available()
                                                    else "mps" if torch.backends.mps.is_available() else "cpu")],
         wrong=[(lambda: lambda: torch.device("cpu"), "NVIDIA GPU your function returns cpu"),
                (lambda: torch.device("cpu"), "same on every machine"),
                (lambda: lambda: torch.device("cuda" if torch.cuda.is_available() else "cpu"), "mps.is_available()"),
                (lambda: "cuda", "same on every machine"), (lambda: lambda: None, "returns None"),
                (lambda: lambda: torch.cuda.is_available(), "returns a bool")])


def small_cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2))


def layer_output_megabytes(builder=small_cnn, batch_size: int = 128, dtype=torch.float32, keep=lambda layer: True,
                           with_batch: bool = False) -> list[float]:
    """What a learner adds up: the MiB of each kept layer's output (and of the batch itself, if asked)."""
    outputs = torch.zeros(batch_size, 3, 64, 64, dtype=dtype)
    sizes = [tensor_megabytes(outputs)] if with_batch else []
    with torch.no_grad():
        for layer in builder().to(dtype):
            outputs = layer(outputs)
            if keep(layer):
                sizes.append(tensor_megabytes(outputs))
    return sizes


def hooked_megabytes(builder) -> float:
    """The total, measured with forward hooks on every layer (another way to watch each layer's output)."""
    sizes = []
    model = builder()
    for layer in model:
        layer.register_forward_hook(lambda module, inputs, output: sizes.append(output.nbytes / 1024**2))
    model(torch.randn(128, 3, 64, 64))
    return sum(sizes)


ACTIVATION_MIB = 32 + 32 + 8 + 16 + 16 + 4 + 2 * 128 * 32 * 4 / 2**20 + 128 * 2 * 4 / 2**20
exercise("07 activation_megabytes", notebook="07", check=devices.activation_megabytes, data=lambda: (small_cnn,),
         reference=lambda builder: sum(layer_output_megabytes(builder)),
         alternatives=[lambda builder: hooked_megabytes(builder), lambda builder: round(ACTIVATION_MIB, 2),
                       lambda builder: torch.tensor(layer_output_megabytes(builder)).sum(),
                       lambda builder: np.float32(sum(layer_output_megabytes(builder)))],
         wrong=[(lambda builder: 6.0, "batch itself"), (lambda builder: sum(layer_output_megabytes(builder, with_batch=True)), "includes the batch"),
                (lambda builder: sum(layer_output_megabytes(builder, keep=lambda layer: isinstance(layer, nn.Conv2d))), "ReLU and pooling"),
                (lambda builder: layer_output_megabytes(builder)[-1], "last layer"),
                (lambda builder: sum(layer_output_megabytes(builder)) * 2**20, "in bytes"),
                (lambda builder: sum(layer_output_megabytes(builder)) * 2**20 / 1e6, "10**6"),
                (lambda builder: sum(layer_output_megabytes(builder, dtype=torch.float64)), "4 bytes per number"),
                (lambda builder: sum(layer_output_megabytes(builder, batch_size=32)), "128 images"),
                (lambda builder: f"{ACTIVATION_MIB:.1f}", "quotes")])
exercise("07 to_numpy", notebook="07", check=devices.to_numpy, data=lambda: (), reference=lambda: lambda t: t.detach().cpu().numpy(),
         alternatives=[lambda: lambda t: t.cpu().detach().numpy(), lambda: lambda t: t.numpy(force=True),
                       lambda: lambda t: t.detach().to("cpu").numpy(), lambda: lambda t: np.asarray(t.detach().cpu())],
         wrong=[(lambda: lambda t: t.detach().numpy(), ".cpu() before .numpy()"), (lambda: lambda t: t.numpy(), "detach"),
                (lambda: lambda t: t.cpu().numpy(), "detach"), (lambda: lambda t: t.detach().cpu(), "returns a tensor"),
                (lambda: lambda t: np.array(t.detach()), ".cpu()"), (lambda: np.zeros(3), "give a function"),
                (lambda: lambda t: t.tolist(), "returns a list")])

# -- notebook 08 --------------------------------------------------------------------------------------------


def trained_pair() -> tuple:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer, 3


exercise("08 resumable_checkpoint", notebook="08", check=checkpoints.resumable_checkpoint, data=trained_pair,
         reference=lambda m, o, e: {"model": m.state_dict(), "optimizer": o.state_dict(), "epoch": 3},
         alternatives=[lambda m, o, e: {"epoch": e, "model_state_dict": m.state_dict(), "optimizer_state_dict": o.state_dict()},
                       lambda m, o, e: {"model": m.state_dict(), "optimizer": o.state_dict(), "epoch": 3, "loss": 0.4},
                       lambda m, o, e: dict(model=m.state_dict(), optimizer=o.state_dict(), epoch=e)],
         wrong=[(lambda m, o, e: {"model": m, "optimizer": o.state_dict(), "epoch": 3}, "not the model object"),
                (lambda m, o, e: {"model": m.state_dict(), "epoch": 3}, "missing: ['optimizer']"),
                (lambda m, o, e: {"model": m.state_dict(), "optimizer": o, "epoch": 3}, "not the optimizer object"),
                (lambda m, o, e: {"model": m.state_dict(), "optimizer": o.state_dict(), "epoch": "3"}, "a number"),
                (lambda m, o, e: {"model": nn.Linear(3, 2).state_dict(), "optimizer": o.state_dict(), "epoch": 3}, "other values"),
                (lambda m, o, e: m.state_dict(), "missing"), (lambda m, o, e: [m.state_dict(), o.state_dict(), 3], "expected a dict")])


def save_beside(obj, path):
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def save_with_named_temporary(obj, path):
    with tempfile.NamedTemporaryFile(dir=Path(path).parent, delete=False) as handle:
        try:
            torch.save(obj, handle)
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def save_directly(obj, path):
    torch.save(obj, path)


def save_in_tmp_and_move(obj, path):
    handle, temporary = tempfile.mkstemp(suffix=".pt")
    os.close(handle)
    torch.save(obj, temporary)
    shutil.move(temporary, path)


def save_without_cleanup(obj, path):
    temporary = Path(path).with_suffix(".tmp")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def save_after_deleting(obj, path):
    Path(path).unlink(missing_ok=True)
    temporary = Path(path).with_suffix(".tmp")
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


exercise("08 atomic_save", notebook="08", check=checkpoints.atomic_save, data=lambda: (), reference=lambda: save_beside,
         alternatives=[lambda: save_atomically, lambda: save_with_named_temporary,
                       lambda: lambda obj, path: save_beside(obj, Path(path))],
         wrong=[(lambda: save_directly, "straight into path"), (lambda: save_in_tmp_and_move, "another folder"),
                (lambda: save_without_cleanup, "left"), (lambda: save_after_deleting, "destroyed the previous file"),
                (lambda: lambda obj: torch.save(obj, "model.pt"), "save(obj, path)"), (lambda: "os.replace", "expected a function")])
FILES = ["epoch_2.pt", "epoch_10.pt", "epoch_9.pt", "best.pt"]
exercise("08 latest_checkpoint", notebook="08", check=checkpoints.latest_checkpoint, data=lambda: (FILES,),
         reference=lambda f: max((n for n in f if n.startswith("epoch_")), key=lambda n: int(n.split("_")[1].split(".")[0])),
         alternatives=[lambda f: "epoch_10.pt", lambda f: Path("checkpoints") / "epoch_10.pt",
                       lambda f: max((n for n in f if re.match(r"epoch_\d+\.pt", n)), key=lambda n: int(re.findall(r"\d+", n)[0]))],
         wrong=[(lambda f: max(f), "alphabetical"), (lambda f: "best.pt", "best weights"), (lambda f: "epoch_11.pt", "not one of"),
                (lambda f: 10, "file name"), (lambda f: "epoch_2.pt", "highest epoch")])
DEPLOY = {f"epoch_{i}.pt": {"train_loss": t, "valid_loss": v}
          for i, (t, v) in enumerate(zip([0.64, 0.45, 0.31, 0.22, 0.14, 0.08], [0.62, 0.47, 0.39, 0.41, 0.46, 0.53]), start=1)}

# -- notebook 09 --------------------------------------------------------------------------------------------

SCORES = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.1, 0.2], [-2.0, -1.0, -3.0], [1.0, 1.5, 0.9]])
SQUARE_SCORES = SCORES[:3]
"""As many images as classes: argmax(dim=0) has the right shape, so only its values can tell."""
MATRIX = torch.tensor([[45, 5], [10, 40]])
exercise("09 parasitized_recall", notebook="09", check=predict.parasitized_recall, data=lambda: (MATRIX,),
         reference=lambda m: (m[0, 0] / m[0].sum()).item(),
         alternatives=[lambda m: 45 / 50, lambda m: m[0, 0] / m[0].sum(), lambda m: m.diag()[0].item() / m.sum(dim=1)[0].item()],
         wrong=[(lambda m: 45 / 55, "precision"), (lambda m: 0.85, "accuracy"), (lambda m: 90.0, "percentage"),
                (lambda m: 40 / 50, "Uninfected"), (lambda m: "0.9", "quotes")])
LOGITS = torch.tensor([[0.3, 3.2, 0.1], [1.0, -1.0, -1.5], [2.5, 0.0, 0.2], [6.0, 5.8, -2.0]])
exercise("09 least_sure_image", notebook="09", check=predict.least_sure_image, data=lambda: (LOGITS,),
         reference=lambda logits: int(logits.softmax(dim=1).max(dim=1).values.argmin()),
         alternatives=[lambda logits: logits.softmax(dim=1).max(dim=1).values.argmin(), lambda logits: 3,
                       lambda logits: int(np.argmin(torch.softmax(logits, 1).amax(1).numpy()))],
         wrong=[(lambda logits: 4, "counts from 0"), (lambda logits: 0, "surest"), (lambda logits: int(logits.max(dim=1).values.argmin()), "softmax"),
                (lambda logits: "3", "quotes"), (lambda logits: 2, "smallest")])

# -- notebook 10 --------------------------------------------------------------------------------------------


def logits_pair() -> tuple:
    first = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    return first, first.numpy() + [[1e-5, -3e-5], [0.0, 2e-5]]


exercise("10 max_difference", notebook="10", check=export.max_difference, data=logits_pair,
         reference=lambda f, s: float(abs(s - f.numpy()).max()),
         alternatives=[lambda f, s: (torch.tensor(s, dtype=torch.float32) - f).abs().max().item(),
                       lambda f, s: np.max(np.abs(s.astype(np.float32) - f.numpy())), lambda f, s: torch.from_numpy(s).sub(f).abs().max(),
                       lambda f, s: 3e-5],
         wrong=[(lambda f, s: float((s - f.numpy()).max()), "absolute value"), (lambda f, s: float(abs(s - f.numpy()).mean()), "mean"),
                (lambda f, s: np.allclose(s, f.numpy()), "yes/no"), (lambda f, s: float(abs(s - f.numpy()).min()), "smallest"),
                (lambda f, s: abs(s - f.numpy()), "number"), (lambda f, s: "3e-05", "quotes")])

# -- notebook 11 --------------------------------------------------------------------------------------------

CAPSTONE_MATRIX = torch.tensor([[30, 10], [5, 55]])
exercise("11 model_selection", notebook="11", check=capstone.model_selection, data=lambda: (), reference=lambda: "validation loss",
         alternatives=[lambda: "Validation loss", lambda: "the lowest validation loss", lambda: "val_loss"],
         wrong=[(lambda: "test accuracy", "test split"), (lambda: "training accuracy", "memorising"),
                (lambda: "the highest test accuracy", "test split"), (lambda: 1, "one of the texts")])


# -- notebook 12 --------------------------------------------------------------------------------------------

PORT_CONFIG = RunConfig(samples=128, batch_size=16, epochs=2)


def ported_model(batch_size: int = 16, reshuffle: bool = True, epochs: int = 2, lr: float = 0.1) -> nn.Module:
    """The notebook's one-process loop on PORT_CONFIG's data, with the given batch size and epochs."""
    config = PORT_CONFIG
    dataset = make_regression_data(config.samples, config.features, config.seed)
    model = make_tiny_model(config.features, config.seed)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=config.seed)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        if reshuffle:
            sampler.set_epoch(epoch)
        for inputs, targets in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(inputs), targets).backward()
            optimizer.step()
    return model


def judged(model: nn.Module, ddp_batch: int = 32) -> torch.Tensor:
    """The learner's own comparison with the DDP run (here its one-process twin), as a bool tensor."""
    ddp_weights = ported_model(ddp_batch).state_dict()
    return torch.stack([(ddp_weights[name] - value).abs().max() for name, value in model.state_dict().items()]).max() < 1e-5


exercise("12 ported_run", notebook="12", check=distributed.ported_run, data=lambda: (False, PORT_CONFIG, 2),
         reference=lambda same, config, processes: ported_model(),
         alternatives=[lambda same, config, processes: train_single_process(config, world_size=1)[0],
                       lambda same, config, processes: ported_model().state_dict()],
         wrong=[(lambda same, config, processes: ported_model(batch_size=32), "global batch of 32"),
                (lambda same, config, processes: ported_model(reshuffle=False), "set_epoch(epoch)"),
                (lambda same, config, processes: make_tiny_model(8, 0), "untrained"),
                (lambda same, config, processes: ported_model(epochs=1), "config.epochs"),
                (lambda same, config, processes: nn.Linear(8, 1), "other layers"),
                (lambda same, config, processes: "model", "an nn.Module")])


def ported_verdict(same_as_ddp: object, config: RunConfig, processes: int) -> tuple[bool, str]:
    """The check's verdict on ``same_as_ddp`` next to the right model."""
    return distributed.ported_run.__wrapped__(ported_model(), same_as_ddp, config, processes)


# The exercise's second answer, the learner's judgement, probed next to the right model.
exercise("12 ported_run (verdict)", notebook="12", check=SimpleNamespace(judge=functools.partial(judge, ported_verdict)),
         data=lambda: (PORT_CONFIG, 2), reference=lambda config, processes: False,
         alternatives=[lambda config, processes: judged(ported_model()), lambda config, processes: np.bool_(False)],
         wrong=[(lambda config, processes: True, "far beyond float32 rounding"),
                (lambda config, processes: judged(ported_model(), ddp_batch=16), "far beyond float32 rounding"),
                (lambda config, processes: "no", "True or False"), (lambda config, processes: 0.07, "True or False")])
exercise("12 logs_on_rank_zero", notebook="12", check=distributed.logs_on_rank_zero, data=lambda: (),
         reference=lambda: lambda rank: rank == 0,
         alternatives=[lambda: lambda rank: not rank, lambda: lambda rank: int(rank) == 0, lambda: lambda rank: rank < 1],
         wrong=[(lambda: lambda rank: True, "every process"), (lambda: lambda rank: rank == 7, "rank 0 always exists"),
                (lambda: lambda rank: print(rank), "returns None"), (lambda: lambda: True, "one number, the rank"),
                (lambda: True, "function of the rank")])


def sampled(rank: int = 1, epoch: int = 1, shuffle: bool = True) -> list[int]:
    sampler = DistributedSampler(range(8), num_replicas=2, rank=rank, shuffle=shuffle, seed=0)
    sampler.set_epoch(epoch)
    return list(sampler)


exercise("12 second_epoch_indices", notebook="12", check=distributed.second_epoch_indices, data=lambda: (), reference=sampled,
         alternatives=[lambda: tuple(sampled()), lambda: torch.tensor(sampled()), lambda: [np.int64(i) for i in sampled()]],
         wrong=[(lambda: sampled(epoch=0), "set_epoch(1)"), (lambda: sampled(rank=0), "rank=1"), (lambda: sampled(shuffle=False), "shuffle=True"),
                (lambda: str(sampled()), "list of indices"),
                (lambda: DistributedSampler(range(8), num_replicas=2, rank=1, seed=0), "the sampler itself")])

# -- the tests ----------------------------------------------------------------------------------------------

# -- round 4: the rewritten exercises (issue 26) ------------------------------------------------------------


def autograd_slope(f, x):
    x_tensor = torch.tensor(x, requires_grad=True)
    f(x_tensor).backward()
    return x_tensor.grad


def slope_by_grad(f, x):
    x_tensor = torch.tensor(float(x), requires_grad=True)
    (gradient,) = torch.autograd.grad(f(x_tensor), x_tensor)
    return gradient.item()


def slope_of_a_double(f, x):
    x_tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = f(x_tensor)
    y.backward()
    return float(x_tensor.grad)


def slope_without_requires_grad(f, x):
    x_tensor = torch.tensor(x)
    f(x_tensor).backward()
    return x_tensor.grad


def slope_without_backward(f, x):
    x_tensor = torch.tensor(x, requires_grad=True)
    f(x_tensor)
    return x_tensor.grad


def slope_by_finite_difference(f, x, h=1e-3):
    return float((f(torch.tensor(x + h)) - f(torch.tensor(x))) / h)


exercise("01 derivative", notebook="01", check=tensors.derivative, data=lambda: (), reference=lambda: autograd_slope,
         alternatives=[lambda: slope_by_grad, lambda: slope_of_a_double],
         wrong=[(lambda: slope_without_requires_grad, "requires_grad=True"), (lambda: slope_without_backward, "None"),
                (lambda: lambda f, x: 3 * x**2 + 2, "worked out by hand"), (lambda: lambda f, x: 14.0, "by hand"),
                (lambda: lambda f, x: f(torch.tensor(x)), "value of f"),
                (lambda: slope_by_finite_difference, "finite difference"), (lambda: 14, "function derivative itself")])


def loader_with_generator(dataset, seed):
    return DataLoader(dataset, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(seed))


def loader_with_sampler(dataset, seed):
    sampler = torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    return DataLoader(dataset, batch_size=8, sampler=sampler)


def loader_seeding_the_global_generator(dataset, seed):
    torch.manual_seed(seed)
    return DataLoader(dataset, batch_size=8, shuffle=True)


exercise("03 seeded_loader", notebook="03", check=loaders.seeded_loader, data=lambda: (),
         reference=lambda: loader_with_generator,
         alternatives=[lambda: loader_with_sampler,
                       lambda: lambda dataset, seed: DataLoader(dataset, 8, True, generator=torch.Generator().manual_seed(seed))],
         wrong=[(lambda: loader_seeding_the_global_generator, "global generator"),
                (lambda: lambda dataset, seed: DataLoader(dataset, batch_size=8), "shuffle=True"),
                (lambda: lambda dataset, seed: loader_with_generator(dataset, 0), "seed you are given"),
                (lambda: lambda dataset, seed: loader_with_generator(torch.utils.data.Subset(dataset, range(8)), seed),
                 "every item"),
                (lambda: loader_with_generator(TensorDataset(torch.arange(4)), 0), "function itself")])


def efficientnet(freeze: bool = True, head: str = "last", typo: bool = False, freeze_after: bool = False) -> nn.Module:
    model = torchvision.models.efficientnet_b0(weights=None)
    if freeze and not freeze_after:
        for parameter in model.parameters():
            if typo:
                parameter.require_grad = False
            else:
                parameter.requires_grad = False
    if head == "last":
        model.classifier[1] = nn.Linear(model.classifier[1].in_features, 2)
    elif head == "whole":
        model.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 2))
    elif head == "linear only":
        model.classifier = nn.Linear(1280, 2)
    elif head == "fc":
        model.fc = nn.Linear(1280, 2)
    elif head == "dropout slot":
        model.classifier[0] = nn.Linear(1280, 2)
    if freeze_after:
        for parameter in model.parameters():
            parameter.requires_grad = False
    return model


exercise("05 frozen_efficientnet", notebook="05", check=transfer.frozen_efficientnet, data=lambda: (),
         reference=lambda: efficientnet(), alternatives=[lambda: efficientnet(head="whole"), lambda: efficientnet(head="linear only")],
         wrong=[(lambda: efficientnet(head="fc"), "never calls fc"), (lambda: efficientnet(head="none"), "outputs"),
                (lambda: efficientnet(freeze_after=True), "frozen too"), (lambda: efficientnet(typo=True), "with the s"),
                (lambda: efficientnet(freeze=False), "backbone tensors still train"),
                (lambda: torchvision.models.resnet18(weights=None), "EfficientNet")])


def course_rule(differences):
    mean, spread = statistics.mean(differences), statistics.stdev(differences)
    every_seed_agrees = all(d > 0 for d in differences) or all(d < 0 for d in differences)
    if not every_seed_agrees or abs(mean) <= 2 * spread:
        return "tie"
    return "better" if mean > 0 else "worse"


def rule_in_numpy(differences):
    values = np.asarray(differences)
    if (values > 0).all() and values.mean() > 2 * values.std(ddof=1):
        return "Better"
    if (values < 0).all() and -values.mean() > 2 * values.std(ddof=1):
        return "WORSE"
    return "tie."


def rule_with_population_spread(differences):
    values = np.asarray(differences)
    if (values > 0).all() and values.mean() > 2 * values.std():
        return "better"
    if (values < 0).all() and -values.mean() > 2 * values.std():
        return "worse"
    return "tie"


def rule_without_signs(differences):
    mean, spread = statistics.mean(differences), statistics.stdev(differences)
    return "tie" if abs(mean) <= 2 * spread else ("better" if mean > 0 else "worse")


exercise("06 seed_verdict", notebook="06", check=training.seed_verdict, data=lambda: (), reference=lambda: course_rule,
         alternatives=[lambda: rule_in_numpy,
                       lambda: lambda d: ("better" if min(d) > 0 else "worse" if max(d) < 0 else "tie")
                       if abs(statistics.fmean(d)) > 2 * statistics.stdev(d) else "tie"],
         wrong=[(lambda: rule_with_population_spread, "ddof=1"), (lambda: rule_without_signs, "agrees in sign"),
                (lambda: lambda d: "better" if min(d) > 0 else "worse" if max(d) < 0 else "tie", "twice the seed spread"),
                (lambda: lambda d: {"better": "worse", "worse": "better"}.get(course_rule(d), "tie"), "wrong way round"),
                (lambda: lambda d: statistics.mean(d) > 0, "return \"better\""), (lambda: "tie", "function verdict itself")])


def on_parameters_device(model, inputs):
    return model(inputs.to(next(model.parameters()).device))


def on_first_parameter_device(model, inputs):
    device = list(model.parameters())[0].device  # noqa: RUF015 (the way a learner may write it)
    with torch.no_grad():
        return model(inputs.to(device))


exercise("07 on_model_device", notebook="07", check=devices.on_model_device, data=lambda: (),
         reference=lambda: on_parameters_device,
         alternatives=[lambda: on_first_parameter_device,
                       lambda: lambda model, inputs: model(inputs.to(device=next(iter(model.state_dict().values())).device))],
         wrong=[(lambda: lambda model, inputs: model.to(inputs.device)(inputs), "moved the model"),
                (lambda: lambda model, inputs: model.to_empty(device=inputs.device)(inputs), "to_empty"),
                (lambda: lambda model, inputs: model(inputs.to(model.device)), "no .device"),
                (lambda: lambda model, inputs: inputs.to(next(model.parameters()).device), "returned the inputs"),
                (lambda: lambda model, inputs: torch.empty(len(inputs), 3, device=next(model.parameters()).device),
                 "not the model's"),
                (lambda: on_parameters_device(nn.Linear(2, 3), torch.zeros(1, 2)), "function itself")])


def predict_picture_reference(model, picture):
    image = torch.from_numpy(picture).permute(2, 0, 1).float() / 255
    model.eval()
    with torch.no_grad():
        probabilities = model(image.unsqueeze(0)).softmax(dim=1)[0]
    return int(probabilities.argmax()), float(probabilities.max())


def predict_picture_with_to_tensor(model, picture):
    model.eval()
    probabilities = model(transforms.ToTensor()(picture)[None]).softmax(dim=1)
    top, index = probabilities.max(dim=1)
    return index.item(), top.item()


def predict_picture_slip(scale: float = 255.0, channels_first: bool = True, evaluate: bool = True,
                         softmax: bool = True, batch: bool = True):
    def predict(model, picture):
        image = torch.from_numpy(picture).float() / scale
        image = image.permute(2, 0, 1) if channels_first else image.reshape(3, *picture.shape[:2])
        if evaluate:
            model.eval()
        with torch.no_grad():
            outputs = model(image.unsqueeze(0) if batch else image)[0]
        outputs = outputs.softmax(dim=0) if softmax else outputs
        return int(outputs.argmax()), float(outputs.max())
    return predict


exercise("09 predict_picture", notebook="09", check=predict.predict_picture, data=lambda: (),
         reference=lambda: predict_picture_reference,
         alternatives=[lambda: predict_picture_with_to_tensor,
                       lambda: lambda model, picture: tuple(predict_picture_reference(model, picture.copy()))],
         wrong=[(lambda: predict_picture_slip(scale=1.0), "divide by 255"),
                (lambda: predict_picture_slip(channels_first=False), "permute(2, 0, 1)"),
                (lambda: predict_picture_slip(evaluate=False), "model.eval()"),
                (lambda: predict_picture_slip(softmax=False), "softmax"),
                (lambda: predict_picture_slip(batch=False), "batch dimension"),
                (lambda: lambda model, picture: predict_picture_reference(model, picture)[0], "a pair")])


class ClampForProbes(nn.Module):
    def forward(self, x):
        return x if x.max() < 1 else x / x.max()


exercise("10 breaks_the_trace", notebook="10", check=export.breaks_the_trace, data=lambda: (),
         reference=lambda: torch.tensor([2.0, 0.5, 1.0]),
         alternatives=[lambda: torch.full((3,), 5.0) * torch.tensor([1.0, 0.2, 0.4]), lambda: torch.tensor([3, 1, 2]),
                       lambda: torch.tensor([[0.1, 1.5]])],
         wrong=[(lambda: torch.tensor([0.1, 0.2, 0.3]), "same branch"), (lambda: torch.tensor([1.0, 0.5, 0.2]), "exactly 1"),
                (lambda: [2.0, 0.5], "input tensor"), (lambda: torch.tensor([]), "empty"),
                (lambda: torch.tensor([-4.0, -2.0]), "below 1")])


def tiny_and_input() -> tuple:
    torch.manual_seed(0)
    return (nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval(),)


def exported_with(model, **dynamic) -> torch.export.ExportedProgram:
    return torch.export.export(model, (torch.randn(6, 4),), **dynamic)


exercise("10 exported_batches", notebook="10", check=export.exported_batches, data=tiny_and_input,
         reference=lambda tiny: exported_with(tiny, dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},)),
         alternatives=[lambda tiny: exported_with(tiny, dynamic_shapes=({0: torch.export.Dim("n", max=128)},)),
                       lambda tiny: exported_with(tiny, dynamic_shapes=({0: torch.export.Dim.AUTO},)),
                       lambda tiny: exported_with(tiny, dynamic_shapes={"input": {0: torch.export.Dim("batch", min=1, max=64)}})],
         wrong=[(lambda tiny: exported_with(tiny), "refused a batch"), (lambda tiny: tiny, "eager model"),
                (lambda tiny: ({0: torch.export.Dim("batch", min=1, max=64)},), "dynamic_shapes argument"),
                (lambda tiny: exported_with(nn.Linear(4, 3)), "refused"),
                (lambda tiny: exported_with(nn.Linear(4, 3), dynamic_shapes=({0: torch.export.Dim("batch")},)),
                 "something else"),
                (lambda tiny: tiny(torch.zeros(2, 4)), "output tensor")])


def threshold_from_sorted_scores(scores, is_parasitized, target):
    parasitized_scores = scores[is_parasitized]
    for threshold in parasitized_scores.sort(descending=True).values:
        if (parasitized_scores >= threshold).sum().item() / len(parasitized_scores) >= target:
            return threshold.item()


def threshold_from_grid(step: float = 0.001):
    def search(scores, is_parasitized, target):
        for threshold in np.arange(1.0, -step, -step):
            if ((scores >= threshold) & is_parasitized).sum().item() / is_parasitized.sum().item() >= target:
                return float(threshold)
    return search


def threshold_from_quantile(scores, is_parasitized, target):
    positives = np.sort(scores[is_parasitized].numpy())[::-1]
    return positives[int(np.ceil(round(target * len(positives), 9))) - 1]


def threshold_with_strict_flags(scores, is_parasitized, target):
    best = 0.0
    for threshold in scores.unique().tolist():
        if ((scores > threshold) & is_parasitized).sum().item() / is_parasitized.sum().item() >= target:
            best = max(best, threshold)
    return best


exercise("11 threshold_for_recall", notebook="11", check=capstone.threshold_for_recall, data=lambda: (),
         reference=lambda: threshold_from_sorted_scores,
         alternatives=[lambda: threshold_from_grid(0.001), lambda: threshold_from_grid(0.01), lambda: threshold_from_quantile],
         wrong=[(lambda: threshold_from_grid(0.05), "coarse grid"), (lambda: threshold_with_strict_flags, ">="),
                (lambda: lambda scores, is_parasitized, target: scores.min().item(), "flags far more healthy cells"),
                (lambda: lambda scores, is_parasitized, target: target, "below the target"),
                (lambda: lambda scores, is_parasitized, target: None, "returned None"),
                (lambda: 0.3, "function itself")])


def screening_data() -> tuple:
    generator = torch.Generator().manual_seed(4)
    def part(count):
        is_parasitized = torch.rand(count, generator=generator) < 0.5
        return (is_parasitized.float() * 0.4 + torch.rand(count, generator=generator) * 0.6), is_parasitized
    (valid_scores, valid_is_parasitized), (test_scores, test_is_parasitized) = part(400), part(600)
    return valid_scores, valid_is_parasitized, test_scores, test_is_parasitized, 0.98


def screening(valid_scores, valid_is_parasitized, test_scores, test_is_parasitized, target, *, choose_on="valid",
              recall_on="test", false_alarms="share"):
    chosen_scores, chosen_labels = ((valid_scores, valid_is_parasitized) if choose_on == "valid"
                                    else (test_scores, test_is_parasitized))
    threshold = threshold_from_sorted_scores(chosen_scores, chosen_labels, target)
    measured_scores, measured_labels = ((test_scores, test_is_parasitized) if recall_on == "test"
                                        else (valid_scores, valid_is_parasitized))
    recall = (measured_scores >= threshold)[measured_labels].float().mean().item()
    flagged_healthy = (test_scores >= threshold)[~test_is_parasitized]
    alarms = {"share": flagged_healthy.float().mean().item(), "count": flagged_healthy.sum().item(),
              "all cells": (test_scores >= threshold).float().mean().item()}[false_alarms]
    return threshold, recall, alarms


exercise("11 screening_at_threshold", notebook="11", check=capstone.screening_at_threshold, data=screening_data,
         reference=lambda *data: screening(*data),
         alternatives=[lambda *data: [round(value, 4) for value in screening(*data)],
                       lambda *data: tuple(torch.tensor(value) for value in screening(*data)),
                       lambda *data: np.array(screening(*data))],
         wrong=[(lambda *data: screening(*data, choose_on="test"), "chosen on the test cells"),
                (lambda *data: screening(*data, recall_on="valid"), "validation cells'"),
                (lambda *data: screening(*data, false_alarms="count"), "how many healthy cells"),
                (lambda *data: screening(*data, false_alarms="all cells"), "all test cells flagged"),
                (lambda *data: screening(*data)[:2], "three numbers"),
                (lambda *data: (0.5, *screening(*data)[1:]), "threshold should be")])


NAMES = sorted(EXERCISES)


def verdict(name: str, answer: Answer) -> tuple[bool, str]:
    entry = EXERCISES[name]
    data = entry.data()
    return entry.check.judge(answer(*data), *data)


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_solution_passes(name):
    assert verdict(name, EXERCISES[name].reference) == (True, "")


@pytest.mark.parametrize("name,index", [(name, i) for name in NAMES for i in range(len(EXERCISES[name].alternatives))])
def test_correct_alternatives_pass(name, index):
    passed, hint = verdict(name, EXERCISES[name].alternatives[index])
    assert passed, f"{name}: correct alternative {index} rejected with: {hint}"


@pytest.mark.parametrize("name,index", [(name, i) for name in NAMES for i in range(len(EXERCISES[name].wrong))])
def test_wrong_answers_fail_with_a_hint_that_names_the_mistake(name, index):
    answer, mistake = EXERCISES[name].wrong[index]
    passed, hint = verdict(name, answer)
    assert not passed, f"{name}: wrong answer {index} accepted"
    assert mistake.lower() in hint.lower(), f"{name}: wrong answer {index}: the hint {hint!r} does not say {mistake!r}"
    assert "checking your answer raised" not in hint and "using it failed" not in hint, hint


@pytest.mark.parametrize("name", NAMES)
def test_unanswered_exercises_get_the_replace_hint(name):
    entry = EXERCISES[name]
    assert entry.check.judge(None, *entry.data()) == (False, UNANSWERED_HINT)


def test_every_exercise_has_enough_probes():
    for name, entry in EXERCISES.items():
        assert len(entry.alternatives) >= 2, f"{name} has {len(entry.alternatives)} correct alternatives"
        assert len(entry.wrong) >= 3, f"{name} has {len(entry.wrong)} wrong answers"


def checks_called_in(notebook: Path) -> set[str]:
    """Return the exercise checks a notebook's exercise section calls, as 'NN name'."""
    cells = nbformat.read(notebook, as_version=4).cells
    start = next(i for i, cell in enumerate(cells) if "## Exercises" in cell.source)
    section = "\n".join(cell.source for cell in cells[start:] if cell.cell_type == "code")
    return {f"{notebook.name[:2]} {name}" for name in re.findall(r"\bcheck\.(\w+)\(", section)}


def probed_checks() -> set[str]:
    """Return the probed checks as 'NN name', without the variants of one exercise (a name in brackets)."""
    return {name.split(" (")[0] for name in EXERCISES}


def test_the_corpus_covers_every_exercise_of_every_notebook():
    called = set().union(*(checks_called_in(path) for path in facts.notebook_paths()))
    probed = probed_checks()
    assert called == probed, f"not probed: {called - probed}; probed but gone: {probed - called}"
    for path in facts.notebook_paths():
        assert len(checks_called_in(path)) >= 3, f"{path.name} has fewer than three checked exercises"
