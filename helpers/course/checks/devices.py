"""Checks for the exercises of notebook 07, CUDA and devices."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator
from unittest import mock

import numpy as np
import torch
from torch import nn

from helpers.course.checks import Verdict, as_number, call_learner_function, exercise_check, kind_of, number_problem
from helpers.devices import tensor_megabytes

MACHINES = {  # (CUDA available, MPS available) -> the best device there
    "a machine with an NVIDIA GPU": ((True, False), "cuda"),
    "a Mac with Apple silicon": ((False, True), "mps"),
    "a laptop without a GPU": ((False, False), "cpu"),
}


def _device_type(value: object) -> str | None:
    """Return the device type ``value`` names (a torch.device or a string such as "cuda:0"), else None."""
    try:
        return torch.device(value).type if isinstance(value, (str, torch.device)) else None
    except RuntimeError:
        return None


@contextmanager
def pretend_machine(cuda: bool, mps: bool) -> Iterator[None]:
    """Make every way PyTorch says which accelerator it has answer as on a machine with ``cuda`` and ``mps``.

    ``torch.cuda.is_available`` and ``device_count``, ``torch.backends.mps.is_available`` and ``is_built``,
    and (torch 2.6 and newer) ``torch.accelerator``'s ``is_available``, ``device_count`` and
    ``current_accelerator`` all agree, so any correct way of asking gets the same answer.

    Example:
        >>> with pretend_machine(cuda=True, mps=False):
        ...     torch.cuda.is_available(), torch.cuda.device_count()
        (True, 1)
    """
    accelerator = "cuda" if cuda else "mps" if mps else None

    def current_accelerator(check_available: bool = False) -> torch.device | None:
        return torch.device(accelerator) if accelerator else None

    fakes = [(torch.cuda, "is_available", lambda: cuda), (torch.cuda, "device_count", lambda: int(cuda)),
             (torch.backends.mps, "is_available", lambda: mps), (torch.backends.mps, "is_built", lambda: mps)]
    if hasattr(torch, "accelerator"):
        fakes += [(torch.accelerator, "is_available", lambda: accelerator is not None),
                  (torch.accelerator, "device_count", lambda: int(accelerator is not None)),
                  (torch.accelerator, "current_accelerator", current_accelerator)]
    with ExitStack() as stack:
        for owner, name, fake in fakes:
            if hasattr(owner, name):
                stack.enter_context(mock.patch.object(owner, name, fake))
        yield


@exercise_check
def device_choice(answer: object) -> Verdict:
    """The answer is a function returning the best device: cuda when available, else mps, else cpu.

    The check runs it as if on three machines (:func:`pretend_machine`), clearing its cache between
    machines when it has one (``functools.cache``).
    """
    if isinstance(answer, (str, torch.device)):
        return False, (f"that is one device ({answer}), the same on every machine; give a function "
                       "(def best_device(): ...) that asks torch.cuda.is_available() when it runs.")
    if not callable(answer):
        return False, f"expected a function such as `def best_device(): ...`, got {kind_of(answer)}."
    for machine, ((cuda, mps), expected) in MACHINES.items():
        if hasattr(answer, "cache_clear"):
            answer.cache_clear()
        with pretend_machine(cuda, mps):
            result, failure = call_learner_function(answer)
        if failure:
            return False, f"on {machine}, {failure}."
        found = _device_type(result)
        if found is None:
            return False, f"your function returns {kind_of(result)}: return torch.device(...)."
        if found != expected:
            extra = (" Ask torch.backends.mps.is_available() when there is no CUDA." if expected == "mps" else
                     " Let torch.cuda.is_available() decide inside the function, rather than writing the name.")
            return False, f"on {machine} your function returns {found}, but the best device there is {expected}.{extra}"
    if hasattr(answer, "cache_clear"):
        answer.cache_clear()  # the learner's cache now holds this machine's answer again on the next call
    return True, ""


@exercise_check
def output_on_model_device(answer: object, model: nn.Module, inputs: torch.Tensor) -> Verdict:
    """The answer is ``model(inputs)`` computed on the model's device."""
    model_device = next(model.parameters()).device
    if not isinstance(answer, torch.Tensor):
        return False, f"expected the model's output (a tensor), got {kind_of(answer)}."
    if answer.device != model_device:
        return False, (f"the output is on {answer.device}, the model on {model_device}: move the inputs with "
                       "inputs.to(next(model.parameters()).device) and call the model on them.")
    expected_shape = (inputs.shape[0], model(inputs.to(model_device)).shape[1])
    if tuple(answer.shape) == tuple(inputs.shape):
        return False, "that is the inputs, moved; now call the model on them."
    if tuple(answer.shape) != expected_shape:
        return False, f"expected shape {expected_shape} (one row per input), got {tuple(answer.shape)}."
    return True, ""


def _output_megabytes(model_builder: Callable[[], nn.Module], batch: torch.Tensor) -> list[float]:
    """Return the MiB of each layer's output when ``model_builder()`` runs on ``batch``, layer by layer."""
    megabytes = []
    with torch.no_grad():
        outputs = batch
        for layer in model_builder():
            outputs = layer(outputs)
            megabytes.append(tensor_megabytes(outputs))
    return megabytes


@exercise_check
def activation_megabytes(answer: object, model_builder: Callable[[], nn.Module]) -> Verdict:
    """The answer is the MiB of every layer's output of ``model_builder()`` on a float32 batch (128, 3, 64, 64).

    For the notebook's small CNN that is 32 + 32 + 8 + 16 + 16 + 4 + a little = 108.03 MiB.
    """
    problem = number_problem(answer, "a number of MiB")
    if problem:
        return False, problem
    value = as_number(answer)
    batch = torch.zeros(128, 3, 64, 64)
    layers = _output_megabytes(model_builder, batch)
    total, batch_only = sum(layers), tensor_megabytes(batch)
    conv_layers = sum(size for size, layer in zip(layers, model_builder()) if isinstance(layer, nn.Conv2d))

    def near(expected: float) -> bool:
        return abs(value - expected) <= 0.05

    if near(total):
        return True, ""
    if near(batch_only):
        return False, (f"{batch_only:g} MiB is the batch itself; run it through the layers and add up what each "
                       "layer returns.")
    if near(total + batch_only):
        return False, f"that includes the batch itself ({batch_only:g} MiB); add up the layers' outputs only."
    if near(conv_layers):
        return False, ("that counts the convolutions' outputs only; ReLU and pooling return new tensors too, and "
                       "backward keeps them.")
    if near(layers[-1]):
        return False, "that is only the last layer's output; add up the output of every layer on the way."
    if abs(value - total * 2**20) < 1:
        return False, "that is in bytes; divide by 2**20 for MiB."
    if near(total * 2**20 / 1e6):
        return False, "that is in megabytes of 10**6 bytes; a MiB is 2**20 bytes."
    if near(total * 2) or near(total / 2):
        return False, ("that is another element size: the batch is float32, 4 bytes per number "
                       "(tensor.element_size()).")
    return False, (f"got {value:g}; on a float32 batch of 128 images of 3 x 64 x 64, loop over the layers "
                   "(x = layer(x)) and add up x.nelement() * x.element_size() / 2**20 after each.")


class _PretendGpuTensor(torch.Tensor):
    """A CPU tensor that behaves as one on a GPU would, as far as moving it to NumPy goes.

    Its ``device`` is ``cuda:0`` and ``is_cuda`` is True; ``.numpy()`` fails as on a GPU until the tensor
    is moved with ``.cpu()`` or ``.to("cpu")``, which give an ordinary CPU tensor.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        read_property = getattr(func, "__self__", None) if getattr(func, "__name__", "") == "__get__" else None
        if read_property is torch.Tensor.device:
            return torch.device("cuda", 0)
        if read_property is torch.Tensor.is_cuda:
            return True
        forced = func is torch.Tensor.numpy and kwargs.get("force", args[1] if len(args) > 1 else False)
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and not forced:
            if args[0].requires_grad:
                raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                                   "Use tensor.detach().numpy() instead.")
            raise TypeError("can't convert cuda:0 device type tensor to numpy. "
                            "Use Tensor.cpu() to copy the tensor to host memory first.")
        result = super().__torch_function__(func, types, args, kwargs)
        moved_to_cpu = func is torch.Tensor.cpu or (
            func is torch.Tensor.to and any(_device_type(value) == "cpu" for value in [*args[1:], *kwargs.values()]))
        if moved_to_cpu and isinstance(result, cls):
            return result.as_subclass(torch.Tensor)
        return result


def _on_pretend_gpu(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.as_subclass(_PretendGpuTensor)


@exercise_check
def to_numpy(answer: object) -> Verdict:
    """The answer is a function turning any tensor into a NumPy array: ``tensor.detach().cpu().numpy()``.

    The check calls it on a tensor on the tape that (pretends it) lives on a GPU, where
    ``.numpy()`` without ``.cpu()`` fails as it does on a real GPU.
    """
    if isinstance(answer, np.ndarray):
        return False, ("that is one array; give a function (def to_numpy(tensor): ...) so the check can try it on "
                       "a tensor on a GPU.")
    if not callable(answer):
        return False, f"expected a function such as `def to_numpy(tensor): ...`, got {kind_of(answer)}."
    weights = torch.arange(6.0).reshape(2, 3).requires_grad_(True)
    prediction = _on_pretend_gpu(weights * 2)
    result, failure = call_learner_function(answer, prediction)
    if "requires grad" in failure:
        return False, f"{failure}. The tensor is on the autograd tape: .detach() it first."
    if "cuda" in failure:
        return False, (f"{failure}. NumPy only reads CPU memory, so a GPU tensor needs .cpu() before .numpy(). "
                       "The cheat sheet's order is .detach().cpu().numpy().")
    if failure:
        return False, f"{failure}."
    if isinstance(result, torch.Tensor):
        return False, "your function returns a tensor; finish with .numpy() (after .detach().cpu())."
    if not isinstance(result, np.ndarray):
        return False, f"your function returns {kind_of(result)}: return tensor.detach().cpu().numpy()."
    if result.shape != (2, 3) or not np.allclose(result, np.arange(6.0).reshape(2, 3) * 2):
        return False, "the array holds other values: convert the tensor given to the function, unchanged."
    return True, ""
