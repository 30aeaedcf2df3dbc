"""Deployment, as notebook 10 taught it: export a model, load it back, check it still agrees.

* :func:`export_program` and :func:`load_program`: ``torch.export``, the
  successor of TorchScript, to a ``.pt2`` file and back, with a dynamic batch size.
* :func:`export_onnx`, :func:`onnx_session` and :func:`run_onnx`: ONNX through
  the dynamo exporter, run by onnxruntime (no PyTorch needed where it is deployed).
* :func:`compile_or_fall_back`: ``torch.compile`` that reports instead of failing
  when no compiler is available.
* :func:`artefact_size_bytes` and :func:`max_abs_difference`: figures for the
  table of artefacts (load times come from notebook 07's ``seconds_per_call``).

Everything here works for any ``nn.Module`` that takes one image batch (N, C, H, W).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from helpers.safe_files import exclusive_temporary, replace_synced, sync_folder

MAX_BATCH = 4096
"""The largest batch the exported artefacts accept."""
TENSOR_CONSTANT_PREFIX = "tensor_"
"""Constants in a ``.pt2`` whose file names start otherwise are Python objects (``custom_obj_``, ``opaque_obj_``)."""
COMPILED_CODE_FOLDERS = ("data/aotinductor/", "data/executorch/", "data/mtia")
"""Parts of a ``.pt2`` that hold compiled code: loading them runs it."""


class UnsafeProgramError(ValueError):
    """A ``.pt2`` file that would unpickle Python objects or load compiled code: refused before loading."""


def _batch_of_at_least_two(example: torch.Tensor) -> torch.Tensor:
    """``torch.export`` treats a size of 1 as fixed, so a dynamic batch needs an example of two or more."""
    return torch.cat([example, example]) if example.shape[0] == 1 else example


def _dynamic_batch() -> tuple[dict[int, torch.export.Dim]]:
    """The dynamic shapes of a forward that takes one batch: dimension 0 may be any size."""
    return ({0: torch.export.Dim("batch", min=1, max=MAX_BATCH)},)


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in ``eval()`` mode for the ``with`` block, then back in the mode it was in.

    An export records the model as it will be used (Dropout off, BatchNorm on
    its running statistics), and the caller's training run goes on as before.

    Example:
        >>> layer = nn.Dropout().train()
        >>> with evaluation_mode(layer):
        ...     layer.training
        False
        >>> layer.training
        True
    """
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.training = training


def export_program(model: nn.Module, example: torch.Tensor, path: str | Path,
                   dynamic_batch: bool = True) -> Path:
    """Export ``model`` with ``torch.export`` for inputs like ``example`` and save it to ``path`` (``.pt2``).

    The model is exported in ``eval()`` mode: Dropout off, BatchNorm on its
    running statistics, as it will be used; afterwards it is back in the mode
    it was in (see :func:`evaluation_mode`). The file is written atomically and
    synced to disk. The ``.pt2`` file keeps the example
    input, so we save a copy of just the example: a slice such as ``batch[:2]``
    shares the whole batch's memory, and the file would hold every image in it.

    Example:
        >>> export_program(model, torch.randn(2, 3, 64, 64), "artefacts/model.pt2")  # doctest: +SKIP
        PosixPath('artefacts/model.pt2')
    """
    example = example.detach().clone()
    example = _batch_of_at_least_two(example) if dynamic_batch else example
    with evaluation_mode(model):
        program = torch.export.export(model, (example,), dynamic_shapes=_dynamic_batch() if dynamic_batch else None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = exclusive_temporary(path)
    try:
        with os.fdopen(descriptor, "wb") as file:
            torch.export.save(program, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)  # a reader (or a kill) sees the old file or the new one, never half
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(path.parent)
    return path


def _unpickling_parts(archive: zipfile.ZipFile) -> list[str]:
    """Return what in a ``.pt2`` archive would run Python's unpickler beyond tensors, or compiled code.

    ``torch.export.load`` unpickles with ``weights_only=False`` every weight or
    constant whose config says ``use_pickle``, every constant stored as a Python
    object, and any ``.pt`` member (legacy weights, sample inputs) that a plain
    ``weights_only`` load refuses. Each is named here, before anything is loaded.
    """
    found = []
    for name in archive.namelist():
        inner = name.split("/", 1)[1] if "/" in name else name  # members sit below one root folder
        if inner.startswith(COMPILED_CODE_FOLDERS):
            found.append(f"{inner} (compiled code)")
        elif inner.endswith(("_weights_config.json", "_constants_config.json")):
            try:
                entries = json.loads(archive.read(name)).get("config", {})
            except (ValueError, AttributeError):
                found.append(f"{inner} (not a config PyTorch wrote)")
                continue
            for key, meta in entries.items() if isinstance(entries, dict) else []:
                meta = meta if isinstance(meta, dict) else {}
                is_constant = inner.endswith("_constants_config.json")
                if meta.get("use_pickle") is not False or (
                        is_constant and not str(meta.get("path_name", "")).startswith(TENSOR_CONSTANT_PREFIX)):
                    found.append(f"{key!r} in {inner} (a pickled Python object)")
        elif inner.endswith(".pt"):
            try:
                torch.load(io.BytesIO(archive.read(name)), weights_only=True)
            except Exception:  # torch reports a refused or damaged pickle with many exception types
                found.append(f"{inner} (a pickle that weights_only loading refuses)")
    return found


def load_program(path: str | Path) -> nn.Module:
    """Load a ``.pt2`` file :func:`export_program` wrote and return it as a callable module.

    Load only your own ``.pt2`` files, or ones from people you trust: a ``.pt2``
    can carry pickled Python objects, which ``torch.export.load`` unpickles
    with ``weights_only=False``, and unpickling can run any code. This function
    looks inside the archive first and refuses such a file
    (:class:`UnsafeProgramError`); the graph and plain tensors are all an
    exported model of the course needs.

    Example:
        >>> load_program("artefacts/model.pt2")(torch.randn(5, 3, 64, 64)).shape  # doctest: +SKIP
        torch.Size([5, 2])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No .pt2 file at {path}: check the path, or export one with export_program.")
    try:
        with zipfile.ZipFile(path) as archive:
            unsafe = _unpickling_parts(archive)
    except zipfile.BadZipFile:
        raise UnsafeProgramError(f"{path.name} is not a .pt2 archive (a .pt2 is a zip file): it is truncated or "
                                 "another kind of file. Export the model again with export_program.") from None
    if unsafe:
        shown = "; ".join(unsafe[:3]) + (f" and {len(unsafe) - 3} more" if len(unsafe) > 3 else "")
        raise UnsafeProgramError(
            f"Refused to load {path.name}: it holds {shown}. torch.export.load would unpickle or run them, and "
            "that can run any code the file's author chose. Load only your own .pt2 files: export the model "
            "yourself with export_program, whose files hold only the graph and plain tensors.")
    return torch.export.load(path).module()


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path, dynamic_batch: bool = True) -> Path:
    """Export ``model`` to ONNX with the dynamo exporter; the input is named ``images``, the output ``logits``.

    The weights are kept inside the one ``.onnx`` file (fine below 2 GB). As
    with :func:`export_program`, the model is exported in ``eval()`` mode and
    left in the mode it was in, the example is copied, and the file is written
    atomically and synced to disk.

    Example:
        >>> export_onnx(model, torch.randn(2, 3, 64, 64), "artefacts/model.onnx")  # doctest: +SKIP
        PosixPath('artefacts/model.onnx')
    """
    example = example.detach().clone()
    example = _batch_of_at_least_two(example) if dynamic_batch else example
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = exclusive_temporary(path, suffix=".onnx")
    os.close(descriptor)
    try:
        with evaluation_mode(model):
            torch.onnx.export(model, (example,), temporary, dynamo=True, external_data=False, verbose=False,
                              input_names=["images"], output_names=["logits"],
                              dynamic_shapes=_dynamic_batch() if dynamic_batch else None)
        replace_synced(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def onnx_session(path: str | Path):
    """Return an onnxruntime ``InferenceSession`` for the ``.onnx`` file at ``path``, on the CPU.

    Example:
        >>> [i.name for i in onnx_session("artefacts/model.onnx").get_inputs()]  # doctest: +SKIP
        ['images']
    """
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(session, batch: torch.Tensor) -> np.ndarray:
    """Run an onnxruntime session on a batch; return its first output as a NumPy array.

    Example:
        >>> run_onnx(onnx_session("artefacts/model.onnx"), torch.randn(5, 3, 64, 64)).shape  # doctest: +SKIP
        (5, 2)
    """
    name = session.get_inputs()[0].name
    return session.run(None, {name: batch.detach().cpu().numpy()})[0]


def max_abs_difference(first: torch.Tensor | np.ndarray, second: torch.Tensor | np.ndarray) -> float:
    """Return the largest absolute difference between two arrays or tensors of the same shape.

    Example:
        >>> max_abs_difference(torch.tensor([1.0, 2.0]), np.array([1.0, 2.5]))
        0.5
    """
    first = torch.as_tensor(np.asarray(first.detach().cpu() if isinstance(first, torch.Tensor) else first))
    second = torch.as_tensor(np.asarray(second.detach().cpu() if isinstance(second, torch.Tensor) else second))
    if first.shape != second.shape:
        raise ValueError(f"cannot compare shapes {tuple(first.shape)} and {tuple(second.shape)}: the outputs "
                         "should have the same shape; did the two models get the same batch?")
    return float((first.double() - second.double()).abs().max())


def artefact_size_bytes(path: str | Path) -> int:
    """Return the bytes a saved model takes: the file, plus an ONNX external-data file beside it, if any.

    Example:
        >>> artefact_size_bytes("artefacts/model.onnx")  # doctest: +SKIP
        41213
    """
    path = Path(path)
    external = path.with_name(path.name + ".data")
    return path.stat().st_size + (external.stat().st_size if external.exists() else 0)


@dataclass(frozen=True)
class Compiled:
    """What :func:`compile_or_fall_back` did: the model to call, and how it was compiled."""

    model: nn.Module
    backend: str | None
    """The backend that compiled the model, or ``None`` when it runs uncompiled."""
    first_call_seconds: float
    """The first call compiles, so it is much slower than the ones after it."""
    note: str


def compile_or_fall_back(model: nn.Module, example: torch.Tensor,
                         backends: tuple[str, ...] = ("inductor", "aot_eager")) -> Compiled:
    """``torch.compile`` ``model`` with the first backend that works on ``example``.

    ``inductor`` (the default backend) generates C++ on a CPU and needs a C++
    compiler; ``aot_eager`` only captures the graph and runs it with PyTorch's
    own kernels. If none works, the model runs uncompiled and ``note`` says why.

    Example:
        >>> compiled = compile_or_fall_back(model, torch.randn(2, 3, 64, 64))  # doctest: +SKIP
        >>> compiled.backend  # doctest: +SKIP
        'inductor'
    """
    reasons = []
    for backend in backends:
        torch._dynamo.reset()  # forget graphs compiled by an earlier backend
        started = time.perf_counter()
        try:
            candidate = torch.compile(model, backend=backend)
            with torch.no_grad():
                candidate(example)  # compilation happens on the first call
        except Exception as error:  # a missing compiler surfaces as one of many exception types
            reasons.append(f"{backend}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
            continue
        seconds = time.perf_counter() - started
        skipped = f" ({'; '.join(reasons)})" if reasons else ""
        return Compiled(cast(nn.Module, candidate), backend, seconds, f"compiled with backend {backend!r}{skipped}")
    return Compiled(model, None, 0.0, "torch.compile is unavailable here, so the model runs uncompiled: "
                    + "; ".join(reasons))
