"""``python -m helpers doctor``: is this machine ready for the course?

Prints one ``OK`` or ``FAIL`` line per requirement, each failure with a hint
that says what to do, and returns a non-zero exit status when anything failed.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from packaging.version import Version

MIN_PYTHON = (3, 11)  # 3.10 reached its end of life in October 2026
MIN_TORCH = (2, 7)  # pyproject.toml's lower bounds, tested by `make test-oldest`
MIN_TORCHVISION = (0, 22)
MIN_FREE_DISK_GB = 2.0
GPU_HINT = ("no GPU: fine for the smoke and class presets. For the full preset, in Colab choose "
            "Runtime > Change runtime type > T4 GPU; in Kaggle, Settings > Accelerator > GPU.")


@dataclass(frozen=True)
class Check:
    """One requirement: its name, whether it is met, what was found and a hint if not."""

    name: str
    ok: bool
    found: str
    hint: str = ""

    def line(self) -> str:
        text = f"[{'OK' if self.ok else 'FAIL'}] {self.name:<12} {self.found}"
        return text if self.ok else f"{text}\n       -> {self.hint}"


def check_python() -> Check:
    found = platform.python_version()
    return Check("Python", sys.version_info[:2] >= MIN_PYTHON, found,
                 f"the course needs Python {'.'.join(map(str, MIN_PYTHON))} or newer.")


def major_minor(version: str) -> tuple[int, int]:
    """Return the first two numbers of a version string.

    >>> major_minor("2.7.0+cu126")
    (2, 7)
    """
    major, minor = Version(version).release[:2]
    return major, minor


def too_old_hint(package: str, minimum: tuple[int, int]) -> str:
    wanted = ".".join(map(str, minimum))
    return (f"the course needs {package} {wanted} or newer: locally, `make venv` installs the tested "
            "versions; in Colab or Kaggle, use a current runtime (Runtime > Disconnect and delete runtime).")


def check_torch() -> Check:
    try:
        import torch

        (torch.ones(2, 2) @ torch.ones(2, 2)).sum().item()
    except Exception as exc:
        return Check("torch", False, f"{type(exc).__name__}: {exc}",
                     "install it with `make venv` (local) or restart the Colab/Kaggle runtime.")
    return Check("torch", major_minor(torch.__version__) >= MIN_TORCH, torch.__version__,
                 too_old_hint("torch", MIN_TORCH))


def check_torchvision() -> Check:
    try:
        import torch
        import torchvision

        boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
        torchvision.ops.nms(boxes, torch.tensor([1.0]), 0.5)  # fails when it does not match torch
    except Exception as exc:
        return Check("torchvision", False, f"{type(exc).__name__}: {exc}",
                     "torchvision must be built for the installed torch: reinstall both from "
                     "constraints.txt (`make venv`), or restart the Colab runtime.")
    return Check("torchvision", major_minor(torchvision.__version__) >= MIN_TORCHVISION,
                 torchvision.__version__, too_old_hint("torchvision", MIN_TORCHVISION))


def check_course_package() -> Check:
    from helpers import __version__

    try:
        installed = importlib.metadata.version("runnable-pytorch-cheatsheet")
    except importlib.metadata.PackageNotFoundError:
        return Check("course", False, f"helpers {__version__} importable but not installed",
                     "run `make venv` in the checkout (it installs the package in editable mode).")
    return Check("course", True, f"runnable-pytorch-cheatsheet {installed}")


def check_kernel() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
        return Check("kernel", True, f"python3 ({spec.display_name})")
    except Exception as exc:
        return Check("kernel", False, f"{type(exc).__name__}: {exc}",
                     "install ipykernel in this environment (`make venv` does).")


def check_device(preset: str) -> Check:
    try:
        from helpers.devices import choose_device

        device = choose_device("auto").type
    except Exception as exc:
        return Check("device", False, f"{type(exc).__name__}: {exc}", "fix torch first.")
    if device == "cpu":
        return Check("device", preset != "full", "cpu, no GPU", GPU_HINT)
    return Check("device", True, device)


def check_disk() -> Check:
    from helpers.course.paths import data_dir

    try:
        free_gb = shutil.disk_usage(data_dir()).free / 1e9
    except OSError as exc:
        return Check("free disk", False, f"{type(exc).__name__}: {exc}",
                     "the data folder cannot be used: set COURSE_DATA_DIR to a folder you can write to.")
    return Check("free disk", free_gb >= MIN_FREE_DISK_GB, f"{free_gb:.1f} GB free for data",
                 f"the full preset needs about {MIN_FREE_DISK_GB:.0f} GB for the NIH data; free "
                 "some space or set COURSE_DATA_DIR to a larger disk.")


def check_data_folder() -> Check:
    from helpers.course.paths import data_dir

    try:
        folder = data_dir()
        with tempfile.TemporaryFile(dir=folder):  # a new file of its own, gone when closed: nothing else touched
            pass
        return Check("data folder", True, f"{folder.name}/ is writable")
    except (OSError, ValueError) as exc:
        return Check("data folder", False, f"{type(exc).__name__}: {exc}",
                     "set COURSE_DATA_DIR to a folder you can write to.")


def run_check(name: str, check: Callable[[], Check]) -> Check:
    """Return ``check()``, or a ``FAIL`` line when the check itself breaks: the doctor never crashes.

    Example:
        >>> run_check("demo", lambda: 1 / 0).ok
        False
    """
    try:
        return check()
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}",
                     "this check could not run here; fix what it names, then run the doctor again.")


def run_doctor(preset: str = "class", print_line: Callable[[str], None] = print) -> bool:
    """Print one line per requirement as it is checked; return ``True`` when all are met."""
    checks = [("Python", check_python), ("torch", check_torch), ("torchvision", check_torchvision),
              ("course", check_course_package), ("kernel", check_kernel), ("device", lambda: check_device(preset)),
              ("free disk", check_disk), ("data folder", check_data_folder)]
    all_ok = True
    for name, check in checks:
        result = run_check(name, check)
        print_line(result.line())
        all_ok = all_ok and result.ok
    return all_ok
