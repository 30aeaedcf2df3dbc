"""Run an untrusted notebook in its own kernel: a time limit, a memory limit, a scratch folder, no network.

Where bubblewrap (``bwrap``) is installed, the kernel runs inside it: the whole
file system read-only, the folders in ``hidden`` replaced by empty ones, a small
``/tmp`` of its own as working folder and HOME (the only place it can write),
and no network. The kernel talks to the grader over Unix sockets in a folder
bound into the sandbox, since a sandbox without a network has no 127.0.0.1 in
common with the grader. Without bubblewrap (macOS, Windows) the kernel still
gets its limits and scratch folder, and :attr:`Execution.sandbox` says that it
could read and write the user's files.

A cell that runs past the notebook's time is interrupted and the notebook
stops there; a kernel that dies, and output past the limit, are reported, not
raised: what finished is kept.

Example:
    >>> Limits().seconds, Limits(seconds=60).memory_bytes // 2**30
    (600.0, 6)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SANDBOX_WORK_DIR = "/tmp/work"
"""The kernel's working folder and HOME inside bubblewrap."""
KERNEL_NAME = "course-grader"
KILL_GRACE_SECONDS = 15.0
"""How long after the notebook's time a kernel that ignores interrupts is killed."""
NO_SANDBOX_TEXT = ("no sandbox: bubblewrap (bwrap) is not installed, so submissions ran with your permissions "
                   "and could read, change or delete your files and use the network (on Debian or Ubuntu: "
                   "apt-get install bubblewrap).")


@dataclass(frozen=True)
class Limits:
    """What one notebook may use: seconds in all, memory, disk in its scratch folder, and output kept."""

    seconds: float = 600.0
    answer_cell_seconds: float = 120.0
    """An answer cell (tagged ``exercise``) that runs longer is interrupted and the notebook goes on."""
    memory_bytes: int = 6 * 2**30
    disk_bytes: int = 512 * 2**20
    output_bytes: int = 2 * 2**20


@dataclass
class CellRun:
    """How one cell of the executed notebook went."""

    index: int
    seconds: float
    status: str
    """"ok", "error", "timed out", "kernel died" or "not run"."""


@dataclass
class Execution:
    """An executed notebook, how each cell went, and why it stopped early if it did."""

    notebook: Any
    cells: list[CellRun] = field(default_factory=list)
    stopped: str = ""
    dropped_output_cells: list[int] = field(default_factory=list)
    """The cells whose output went past the limit and was dropped (by index)."""
    sandbox: str = ""

    @property
    def output_dropped(self) -> bool:
        """Whether any output was dropped for going past the limit."""
        return bool(self.dropped_output_cells)


@functools.lru_cache(maxsize=1)
def bubblewrap() -> str | None:
    """Return the path of a working ``bwrap``, or None (not installed, or not allowed to make namespaces)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net", "true"],
                           capture_output=True, timeout=30)
    return path if probe.returncode == 0 else None


def sandbox_description(use_bubblewrap: bool) -> str:
    """Say in one sentence how submissions were isolated."""
    if use_bubblewrap:
        return ("bubblewrap: each kernel saw the file system read-only (the submissions, the grades and the "
                "course's solutions hidden), wrote only to its own small /tmp, and had no network.")
    return NO_SANDBOX_TEXT


def launcher_argv(limits: Limits) -> list[str]:
    """The kernel command, started through :func:`main` so that the memory and file-size limits apply.

    Example:
        >>> launcher_argv(Limits())[1:4]
        ['-m', 'helpers.tools.sandbox', '--memory']
    """
    return [sys.executable, "-m", "helpers.tools.sandbox", "--memory", str(limits.memory_bytes),
            "--file-size", str(limits.disk_bytes), "--", "-m", "ipykernel_launcher", "-f", "{connection_file}",
            "--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]


def needed_under_tmp(tmp: Path = Path("/tmp")) -> list[Path]:
    """Return the folders under ``tmp`` that a kernel needs to read: the Python environment and the course.

    The sandbox gives the kernel a small empty ``/tmp`` of its own, which would
    hide a checkout or a virtual environment that lives there (a CI clone, a
    course unpacked in /tmp): these are bound back, read-only.

    Example:
        >>> needed_under_tmp(Path("/nowhere-at-all"))
        []
    """
    from helpers.course.facts import CHECKOUT_ROOT

    wanted = {Path(sys.prefix), Path(sys.executable).parent, CHECKOUT_ROOT,
              *(Path(entry) for entry in sys.path if entry)}
    inside = sorted({path.resolve() for path in wanted
                     if path.exists() and path.resolve().is_relative_to(tmp.resolve())})
    return [path for path in inside if not any(path != other and path.is_relative_to(other) for other in inside)]


def bubblewrap_argv(bwrap: str, sockets: Path, hidden: list[Path], limits: Limits) -> list[str]:
    """The bubblewrap command that wraps the kernel: read-only root, hidden folders, a sized /tmp, no network.

    The new /tmp comes first, then what the kernel needs from the old one (:func:`needed_under_tmp`), then the
    hidden folders over both, so a course that lives under /tmp still hides its solutions.
    """
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(limits.disk_bytes), "--tmpfs", "/tmp"]
    for path in needed_under_tmp():
        argv += ["--ro-bind", str(path), str(path)]
    for path in hidden:
        if path.is_dir():
            argv += ["--tmpfs", str(path)]
        elif path.exists():
            argv += ["--ro-bind", "/dev/null", str(path)]
    argv += ["--bind", str(sockets), str(sockets),
             "--dir", SANDBOX_WORK_DIR, "--chdir", SANDBOX_WORK_DIR, "--setenv", "HOME", SANDBOX_WORK_DIR,
             # ipykernel exits when its parent pid is gone; --die-with-parent does that job here.
             "--unsetenv", "JPY_PARENT_PID", "--unshare-net", "--die-with-parent", "--"]
    return argv


def write_kernel_spec(scratch: Path, environment: dict[str, str], hidden: list[Path], limits: Limits,
                      use_bubblewrap: bool) -> Path:
    """Write the kernel spec of one graded kernel under ``scratch``; return the folder of kernel specs."""
    sockets = scratch / "sockets"
    argv = launcher_argv(limits)
    if use_bubblewrap:
        argv = bubblewrap_argv(bubblewrap() or "bwrap", sockets, hidden, limits) + argv
        environment = {**environment, "HOME": SANDBOX_WORK_DIR}
    else:
        environment = {**environment, "HOME": str(scratch / "work")}
    specs = scratch / "kernels"
    (specs / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
    # Inside bubblewrap a signal would stop bwrap itself: the kernel is interrupted by a message instead.
    spec = {"argv": argv, "display_name": "graded submission", "language": "python", "env": environment,
            "interrupt_mode": "message" if use_bubblewrap else "signal"}
    (specs / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return specs


def _grading_client_class() -> type:
    """NotebookClient with a deadline for the whole notebook and a cap on the output it keeps."""
    from nbclient import NotebookClient

    class GradingClient(NotebookClient):
        deadline = 0.0
        output_budget = 0
        dropped_output_cells: frozenset[int] = frozenset()
        keep_mime_types: tuple[str, ...] = ()

        async def async_execute_cell(self, cell: Any, cell_index: int, execution_count: int | None = None,
                                     store_history: bool = True) -> Any:
            if time.monotonic() >= self.deadline:
                raise TimeoutError(f"the notebook's time was up before cell {cell_index}")
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
            content = msg.get("content", {})
            kept = any(mime in content.get("data", {}) for mime in self.keep_mime_types)
            size = len(json.dumps(content, default=str))
            if not kept:
                if size > self.output_budget:
                    self.dropped_output_cells = self.dropped_output_cells | {cell_index}
                    return None
                self.output_budget -= size
            return super().output(outs, msg, display_id, cell_index)

    return GradingClient


def _cell_timeout(client: Any, limits: Limits, cell: Any) -> int:
    """Seconds a cell may run: what is left of the notebook's time, and at most the answer cell's limit."""
    left = client.deadline - time.monotonic()
    if "exercise" in cell.metadata.get("tags", []):
        left = min(left, limits.answer_cell_seconds)
    return max(1, int(left) + 1)


def _cell_runs(notebook: Any, reached: int, stop_status: str) -> list[CellRun]:
    """How each code cell went, from the timings nbclient records and how far the run got."""
    from datetime import datetime

    runs = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        timing = cell.metadata.get("execution", {})
        started, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        seconds = 0.0
        if started and ended:
            seconds = (datetime.fromisoformat(ended.rstrip("Z")) - datetime.fromisoformat(started.rstrip("Z"))
                       ).total_seconds()
        if index > reached:
            status = "not run"
        elif index == reached and stop_status:
            status = stop_status
        else:
            errors = [out.get("ename") for out in cell.get("outputs", []) if out.get("output_type") == "error"]
            # an answer cell past its own limit is interrupted, and the notebook goes on
            status = "timed out" if "KeyboardInterrupt" in errors else "error" if errors else "ok"
        runs.append(CellRun(index, round(seconds, 3), status))
    return runs


def execute_untrusted(notebook: Any, scratch: Path, limits: Limits, environment: dict[str, str],
                      hidden: list[Path], keep_mime_types: tuple[str, ...] = (),
                      use_bubblewrap: bool | None = None) -> Execution:
    """Execute ``notebook`` (changed in place) in a limited kernel; never raises for what the notebook does.

    ``scratch`` is an empty folder of the grader's; ``keep_mime_types`` are
    outputs kept even past the output limit (the grader's own verdicts).
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if use_bubblewrap is None:
        use_bubblewrap = bubblewrap() is not None
    sockets = scratch / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    (scratch / "work").mkdir(exist_ok=True)
    specs = write_kernel_spec(scratch, environment, hidden, limits, use_bubblewrap)
    manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[str(specs)]), transport="ipc", ip=str(sockets / "kernel"))
    manager.connection_file = str(sockets / "connection.json")
    client = _grading_client_class()(notebook, km=manager, allow_errors=True, interrupt_on_timeout=True,
                                     record_timing=True, startup_timeout=120,
                                     resources={"metadata": {"path": str(scratch / "work")}})
    started = time.monotonic()
    client.deadline = started + limits.seconds
    client.output_budget = limits.output_bytes
    client.keep_mime_types = keep_mime_types
    client.timeout_func = functools.partial(_cell_timeout, client, limits)
    stopped, stop_status = "", ""
    out_of_time = f"stopped after {limits.seconds:g} s, the time allowed per notebook"
    # Code that swallows the interrupt (`except BaseException`) is killed a little after the notebook's time.
    watchdog = threading.Timer(limits.seconds + KILL_GRACE_SECONDS, _kill_kernel, args=(manager,))
    watchdog.daemon = True
    watchdog.start()
    try:
        with open(scratch / "kernel.log", "wb") as log:  # the kernel's own messages, kept out of the grader's
            client.execute(stdout=log, stderr=log)
    except CellTimeoutError:
        stopped, stop_status = out_of_time, "timed out"
    except TimeoutError:  # the time was up between two cells
        stopped = out_of_time
    except DeadKernelError:
        stopped, stop_status = "the kernel died (the code crashed it, exited, or ran out of memory)", "kernel died"
    except RuntimeError as error:  # the kernel could not even start
        stopped, stop_status = f"the kernel could not start: {error}", "kernel died"
    finally:
        watchdog.cancel()
    reached = _last_cell_reached(notebook)
    if not stopped and time.monotonic() - started >= limits.seconds:
        stopped, stop_status = out_of_time, "timed out"
    return Execution(notebook, _cell_runs(notebook, reached, stop_status), stopped, sorted(client.dropped_output_cells),
                     sandbox_description(use_bubblewrap))


def _kill_kernel(manager: Any) -> None:
    """Kill the kernel's process (bubblewrap takes the kernel with it)."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()


def _last_cell_reached(notebook: Any) -> int:
    """The index of the last code cell that began running."""
    reached = -1
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and cell.metadata.get("execution", {}).get("iopub.execute_input"):
            reached = index
    return reached


def main(argv: list[str] | None = None) -> None:
    """Set the memory and file-size limits, then become ``python ARGS...`` (the kernel).

    Used as ``python -m helpers.tools.sandbox --memory BYTES --file-size BYTES -- ARGS...``.
    """
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--")
    options = dict(zip(argv[:split:2], argv[1:split:2]))
    try:
        import resource
    except ImportError:  # Windows: no limits to set
        resource = None  # type: ignore[assignment]
    if resource is not None:
        for limit, option in ((resource.RLIMIT_AS, "--memory"), (resource.RLIMIT_FSIZE, "--file-size")):
            with contextlib.suppress(ValueError, OSError):  # macOS refuses RLIMIT_AS; the time limit still holds
                resource.setrlimit(limit, (int(options[option]), int(options[option])))
    os.execv(sys.executable, [sys.executable, *argv[split + 1:]])


if __name__ == "__main__":
    main()
