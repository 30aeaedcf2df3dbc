"""Checks for the exercises of notebook 07, CUDA and devices."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
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

    fakes: list[tuple[object, str, Callable[..., object]]] = [
        (torch.cuda, "is_available", lambda: cuda), (torch.cuda, "device_count", lambda: int(cuda)),
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


def _models_for_device_check() -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Return (where, model, inputs on the CPU) for the device exercise: a CPU model and two models on ``meta``."""
    torch.manual_seed(0)
    on_cpu = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    with torch.device("meta"):
        linear_on_meta = nn.Linear(4, 3)
        small_cnn_on_meta = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    return [("a model on the CPU", on_cpu, torch.randn(8, 5)),
            ("a model on the meta device", linear_on_meta, torch.randn(6, 4)),
            ("a small CNN on the meta device", small_cnn_on_meta, torch.randn(2, 3, 8, 8))]


def _device_failure_hint(problem: str) -> str:
    """Return the hint for the learner's function failing with ``problem`` (a sentence without its full stop)."""
    problem = problem.rstrip(".!")
    if "meta" in problem.lower() and ("copy" in problem.lower() or "data" in problem.lower()):
        return (f"{problem}. Your function moved the model: a model's weights can be far too big to move for "
                "one batch; leave the model where it is and move the inputs to its device")
    if "has no attribute 'device'" in problem:
        return f"{problem}. A Module has no .device; its parameters do: next(model.parameters()).device"
    if any(word in problem.lower() for word in ("cuda", "nvidia", "mps", "expected device")):
        return (f"{problem}. Do not name a device; read the model's from its parameters, "
                "next(model.parameters()).device, so the function works wherever the model is")
    return problem


@exercise_check
def on_model_device(answer: object) -> Verdict:
    """The answer is a function ``run_on_model_device(model, inputs)``: the model's outputs, computed where it lives.

    It is called with a model on the CPU (its outputs must be the model's own) and with two models on the
    ``meta`` device (the outputs must be on ``meta``, of the right shape), and no model may be moved or changed.
    """
    if not callable(answer):
        return False, (f"expected your function itself (answer_run_on_model_device = run_on_model_device), got "
                       f"{kind_of(answer)}.")
    for where, model, inputs in _models_for_device_check():
        parameters_before = [(parameter, parameter.device) for parameter in model.parameters()]
        values_before = [parameter.detach().clone() for parameter in model.parameters() if not parameter.is_meta]
        output, problem = call_learner_function(answer, model, inputs)
        if problem:
            return False, f"with {where}: {_device_failure_hint(problem)}."
        moved = [parameter for parameter, device in parameters_before if parameter.device != device]
        replaced = [now is not before for now, (before, _) in zip(model.parameters(), parameters_before)]
        if moved or any(replaced):
            return False, (f"with {where}, your function moved or replaced the model's weights (model.to or "
                           "to_empty): leave the model as it is and move the inputs to its device instead.")
        changed = [parameter for parameter, value in zip(model.parameters(), values_before)
                   if not torch.equal(parameter.detach(), value)]
        if changed:
            return False, (f"with {where}, your function changed the model's weights (to_empty makes new, "
                           "uninitialised ones): only run the model, on inputs moved to its device.")
        if not isinstance(output, torch.Tensor):
            return False, f"with {where}, your function returned {kind_of(output)}; return the model's output tensor."
        model_device = next(model.parameters()).device
        if tuple(output.shape) == tuple(inputs.shape):
            return False, f"with {where}, your function returned the inputs (moved); call the model on them too."
        if output.device != model_device:
            return False, (f"with {where}, the output is on {output.device}, the model on {model_device}: move the "
                           "inputs with inputs.to(next(model.parameters()).device) and call the model on them.")
        with torch.no_grad():
            expected = model(inputs.to(model_device))
        if tuple(output.shape) != tuple(expected.shape):
            return False, f"with {where}, expected outputs of shape {tuple(expected.shape)}, got {tuple(output.shape)}."
        if model_device.type != "meta" and not torch.allclose(output.detach(), expected, atol=1e-6):
            return False, f"with {where}, the outputs are not the model's: return model(inputs moved to its device)."
    return True, ""


def _output_megabytes(model_builder: Callable[[], nn.Sequential], batch: torch.Tensor) -> list[float]:
    """Return the MiB of each layer's output when ``model_builder()`` runs on ``batch``, layer by layer."""
    megabytes = []
    with torch.no_grad():
        outputs = batch
        for layer in model_builder():
            outputs = layer(outputs)
            megabytes.append(tensor_megabytes(outputs))
    return megabytes


@exercise_check
def activation_megabytes(answer: object, model_builder: Callable[[], nn.Sequential]) -> Verdict:
    """The answer is the MiB of every layer's output of ``model_builder()`` on a float32 batch (128, 3, 64, 64).

    For the notebook's small CNN that is 32 + 32 + 8 + 16 + 16 + 4 + a little = 108.03 MiB.
    """
    value = as_number(answer)
    if value is None:
        return False, number_problem(answer, "a number of MiB")
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
