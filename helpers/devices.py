"""Devices, as notebook 07 taught them: choose one device, move everything there, measure fairly.

* :func:`choose_device` turns a settings value (``"auto"``, ``"cpu"``, ``"cuda"``,
  ``"cuda:1"``, ``"mps"``) into a ``torch.device``, and says what to do when the
  device asked for is not there.
* :func:`to_device` moves a batch (a tensor, or tuples, lists and dicts of them).
* :func:`seconds_per_call` times a function, waiting for the GPU before reading
  the clock: GPU work is asynchronous, so a timer that does not synchronise
  measures only how long it took to *queue* the work.
* :func:`autocast_dtype` picks the low-precision type for mixed precision.
* :func:`memory_readout` reports how much memory the accelerator holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

MEBIBYTE = 2**20


def choose_device(setting: str | torch.device | None = "auto") -> torch.device:
    """Return the device a settings value names; ``"auto"`` (or ``None``) picks the fastest one.

    The fastest is a CUDA GPU, then Apple's MPS, then the CPU.

    Raises:
        RuntimeError: the device asked for is not available here; the message says how to get it.

    Example:
        >>> choose_device("cpu")
        device(type='cpu')
    """
    if setting is None or setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(setting)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"DEVICE is {str(device)!r} but this machine has no CUDA GPU (torch.cuda.is_available() is "
                "False). Use DEVICE = None to pick what is available, or get a GPU: in Colab "
                "Runtime → Change runtime type → T4 GPU; in Kaggle Settings → Accelerator → GPU.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"DEVICE is {str(device)!r} but this machine has {torch.cuda.device_count()} "
                               f"GPU(s), numbered from 0. Use 'cuda:0' or DEVICE = None.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("DEVICE is 'mps' but Apple's Metal backend is not available here (it needs a Mac "
                           "with Apple silicon and macOS 12.3 or newer). Use DEVICE = None.")
    return device


def to_device(batch: Any, device: torch.device | str, non_blocking: bool = False) -> Any:
    """Return ``batch`` with every tensor in it moved to ``device``; other values are kept.

    ``non_blocking=True`` lets a copy from pinned CPU memory to a GPU overlap
    with computation; elsewhere it is harmless.

    Example:
        >>> images, labels = to_device((torch.zeros(2, 3), torch.tensor([0, 1])), "cpu")
        >>> images.device, labels.device
        (device(type='cpu'), device(type='cpu'))
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {key: to_device(value, device, non_blocking) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(item, device, non_blocking) for item in batch]
        return type(batch)(moved) if isinstance(batch, list) else tuple(moved)
    return batch


def synchronize(device: torch.device | str) -> None:
    """Wait until every operation queued on ``device`` has finished (nothing to wait for on a CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def seconds_per_call(function: Callable[[], object], device: torch.device | str = "cpu", repeats: int = 5,
                     warmup: int = 1) -> float:
    """Return the median wall-clock seconds one call of ``function`` takes on ``device``.

    The warm-up calls are not timed: the first call on a GPU also loads kernels
    and allocates memory. The median ignores the odd call slowed by another program.

    Example:
        >>> a = torch.randn(256, 256)
        >>> seconds_per_call(lambda: a @ a) < 1.0
        True
    """
    for _ in range(warmup):
        function()
    synchronize(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        synchronize(device)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def autocast_dtype(device: torch.device | str) -> torch.dtype:
    """Return the low-precision dtype for ``torch.autocast`` on ``device``.

    bfloat16 keeps float32's range (no loss scaling needed) and is what CPUs and
    GPUs of compute capability 8.0 or newer (Ampere, Hopper...) run natively;
    older GPUs such as Colab's T4 (7.5) only run float16 fast, and need a
    ``torch.amp.GradScaler``. ``torch.cuda.is_bf16_supported()`` alone also
    answers True where bfloat16 is merely emulated (slowly), so we ask for native
    support only. Apple's MPS uses float16.

    Example:
        >>> autocast_dtype("cpu")
        torch.bfloat16
    """
    device = torch.device(device)
    if device.type == "cuda":
        native_bfloat16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native_bfloat16 else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16


def tensor_megabytes(tensor: torch.Tensor) -> float:
    """Return the memory a tensor's elements take, in MiB: elements x bytes per element.

    Example:
        >>> tensor_megabytes(torch.zeros(1024, 1024))  # a million float32 numbers, 4 bytes each
        4.0
    """
    return tensor.nelement() * tensor.element_size() / MEBIBYTE


def memory_readout(device: torch.device | str) -> dict[str, float]:
    """Return the accelerator memory PyTorch uses on ``device``, in MiB; empty for a CPU.

    On CUDA: ``allocated`` (held by live tensors), ``reserved`` (kept by PyTorch's
    caching allocator; ``nvidia-smi`` shows more, since it also counts the CUDA
    context and other processes) and ``peak_allocated`` since the last
    ``torch.cuda.reset_peak_memory_stats()``. On MPS: ``allocated``.

    Example:
        >>> memory_readout("cpu")
        {}
    """
    device = torch.device(device)
    if device.type == "cuda":
        return {"allocated": torch.cuda.memory_allocated(device) / MEBIBYTE,
                "reserved": torch.cuda.memory_reserved(device) / MEBIBYTE,
                "peak_allocated": torch.cuda.max_memory_allocated(device) / MEBIBYTE}
    if device.type == "mps":
        return {"allocated": torch.mps.current_allocated_memory() / MEBIBYTE}
    return {}
