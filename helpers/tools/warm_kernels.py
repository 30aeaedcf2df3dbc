"""Kernels forked from a process that has already imported torch: the test suite's notebook runs.

A notebook pays about 6 s on a 2-core machine before its first line of work:
the kernel starts, then its setup imports torch, torchvision and matplotlib.
The suite's smoke runs execute 13 notebooks, so that is half their time.
:class:`WarmKernels` pays it once: a server process imports those libraries,
then forks a fresh kernel for each notebook. Each kernel is a process of its
own that ran nothing any other kernel ran; it only starts with the libraries
imported (imported, not used: no thread exists yet to be lost in the fork).
numpy's global generator is seeded afresh in each, as in a new process; what
they do share is Python's string-hash seed, so a set of strings iterates in
the same order in every kernel of one run.

How one kernel starts:

1. jupyter_client runs the kernelspec's command, a small launcher:
   ``python -m helpers.tools.warm_kernels launch SOCKET -f CONNECTION_FILE``;
2. the launcher sends the server its arguments, folder, environment and
   standard streams over a Unix socket;
3. the server forks; the child takes them over and starts ipykernel, as
   ``python -m ipykernel_launcher`` would;
4. the launcher stands in for the kernel: it passes on the signals it gets
   (an interrupt is SIGINT) and exits when the kernel does. If the launcher
   is killed, the kernel and its process group are killed too; and the
   launcher and the server stop when the process that started them is gone.

Linux only (:func:`available`); elsewhere the suite starts ordinary kernels.
Learners, ``make course`` and the executor always use ordinary kernels.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

KERNEL_NAME = "course-warm-python3"
PRELOADED_MODULES = ("torch", "torchvision", "matplotlib.pyplot", "PIL.Image", "tqdm")
"""What every notebook imports first: the server imports it once.

Not ipykernel: it reads its environment on import (JPY_PARENT_PID), and each kernel imports it in 0.1 s.
"""
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
"""The backend ipykernel chooses before any cell runs (unless MPLBACKEND says otherwise); matplotlib reads it
on import."""
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
SERVER_START_TIMEOUT_S = 180.0  # importing torch on a busy machine
INTEGER_BYTES = 8  # a length or a process id, sent big-endian
PARENT_CHECK_S = 1.0


def available() -> bool:
    """Return whether kernels can be forked here (Linux: fork is safe after importing torch and matplotlib)."""
    return sys.platform == "linux"


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the other end closed the connection mid-message")
        data += chunk
    return data


def _wait_for_end(connection: socket.socket, parent: int | None = None) -> None:
    """Block until the other end of ``connection`` closes (its process exited, or was killed).

    With ``parent``, return as well once this process's parent is no longer ``parent`` (it exited).
    """
    connection.settimeout(PARENT_CHECK_S if parent else None)
    while True:
        try:
            if not connection.recv(4096):
                return
        except TimeoutError:
            if os.getppid() != parent:
                return
        except ConnectionResetError:  # the other end was killed with data unread
            return


def _exit_with_launcher(connection: socket.socket) -> None:
    """In a kernel: when its launcher exits or is killed, kill the kernel's process group, as Jupyter would."""
    _wait_for_end(connection)
    os.killpg(0, signal.SIGKILL)


def _start_kernel(connection: socket.socket) -> None:
    """In a forked child: take over the launcher's streams, folder and environment, then run ipykernel."""
    _, streams, _, _ = socket.recv_fds(connection, 1, 3)
    length = int.from_bytes(_receive_exactly(connection, INTEGER_BYTES), "big")
    request = json.loads(_receive_exactly(connection, length))
    for number, stream in enumerate(streams):  # stdin, stdout, stderr
        os.dup2(stream, number)
        os.close(stream)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = os.getcwd()  # as `python -m ipykernel_launcher` started in that folder has it
    sys.argv = ["ipykernel_launcher", *request["argv"]]
    if "numpy" in sys.modules:  # a fresh process seeds numpy's global generator afresh; so does this one
        sys.modules["numpy"].random.seed()
    os.setpgid(0, 0)  # a process group of its own, as jupyter_client gives an ordinary kernel
    connection.sendall(os.getpid().to_bytes(INTEGER_BYTES, "big"))
    threading.Thread(target=_exit_with_launcher, args=(connection,), name="launcher watch", daemon=True).start()

    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance(argv=request["argv"])


def _reap_children(signum: int, frame: Any) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:  # none left
        pass


def listening_socket(socket_path: str) -> socket.socket:
    """Return a socket listening at ``socket_path``; the path appears only once it takes connections.

    A socket left there by a server that was killed is replaced. Refused with a
    one-line message (``SystemExit``): a path where a server still listens, and a
    path that holds something other than a socket, which is never removed.
    """
    if os.path.lexists(socket_path):
        if not stat.S_ISSOCK(os.lstat(socket_path).st_mode):
            raise SystemExit(f"{socket_path} exists and is not a socket: it was left as it is. Give the server "
                             "another path.")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(socket_path)
        except (ConnectionRefusedError, FileNotFoundError):
            pass  # stale: nobody listens, and the rename below replaces it
        else:
            raise SystemExit(f"a warm-kernel server already listens at {socket_path}: stop it first, or give "
                             "another path.")
        finally:
            probe.close()
    temporary = f"{socket_path}.{os.getpid()}.new"  # named after this process: no other server binds it
    if os.path.lexists(temporary) and stat.S_ISSOCK(os.lstat(temporary).st_mode):
        os.unlink(temporary)  # left by a killed server that had this process id
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(temporary)
    except OSError as error:
        server.close()
        raise SystemExit(f"cannot listen at {socket_path} ({error.strerror or error}): give the server a path in a "
                         "folder you can write to.") from None
    server.listen(64)
    os.rename(temporary, socket_path)
    return server


def serve(socket_path: str, modules: tuple[str, ...] = PRELOADED_MODULES) -> None:
    """Import ``modules``, listen on ``socket_path``, then fork a kernel for each launcher that connects."""
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    for name in modules:
        importlib.import_module(name)
    server = listening_socket(socket_path)
    signal.signal(signal.SIGCHLD, _reap_children)
    parent = os.getppid()
    server.settimeout(PARENT_CHECK_S)
    while os.getppid() == parent:  # the test run that started this server may be killed: then stop
        try:
            connection, _ = server.accept()
        except TimeoutError:
            continue
        connection.setblocking(True)
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            server.close()
            _start_kernel(connection)
            sys.exit(0)
        connection.close()


def launch(socket_path: str, kernel_arguments: list[str]) -> None:
    """Ask the server at ``socket_path`` for a kernel; pass it our signals; return when it exits."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(socket_path)
    except OSError as error:
        raise SystemExit(f"no warm-kernel server listens at {socket_path} ({error.strerror}): "
                         "start kernels inside `with WarmKernels(...)`") from None
    request = json.dumps({"argv": kernel_arguments, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        socket.send_fds(connection, [b"\0"], [0, 1, 2])
        connection.sendall(len(request).to_bytes(INTEGER_BYTES, "big") + request)
        kernel_pid = int.from_bytes(_receive_exactly(connection, INTEGER_BYTES), "big")
    except ConnectionError:  # closed, reset or a broken pipe: the server is gone
        raise SystemExit("the warm-kernel server stopped before starting a kernel") from None
    for signum in FORWARDED_SIGNALS:  # to the kernel's process group, as jupyter_client signals a kernel
        signal.signal(signum, lambda number, frame: os.killpg(kernel_pid, number))
    _wait_for_end(connection, parent=os.getppid())  # as an ordinary kernel, stop if the client is killed


class WarmKernels:
    """A server of forked kernels for the length of a ``with`` block; :meth:`kernel_manager` gives one each.

    ``environment`` is the server's (and so the kernels' starting) environment;
    each kernel then takes the environment jupyter_client gives its launcher.

    Example:
        >>> with WarmKernels(dict(os.environ)) as kernels:  # doctest: +SKIP
        ...     NotebookClient(notebook, km=kernels.kernel_manager()).execute()
    """

    def __init__(self, environment: dict[str, str], modules: tuple[str, ...] = PRELOADED_MODULES) -> None:
        self.environment, self.modules = environment, modules
        self.server: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WarmKernels:
        self.folder = Path(tempfile.mkdtemp(prefix="course-warm-kernels-"))
        self.socket_path = str(self.folder / "server")
        spec_folder = self.folder / "kernels" / KERNEL_NAME
        spec_folder.mkdir(parents=True)
        launcher = [sys.executable, "-m", "helpers.tools.warm_kernels", "launch", self.socket_path]
        spec = {"argv": [*launcher, "-f", "{connection_file}"], "display_name": "Python 3 (warm)",
                "language": "python", "interrupt_mode": "signal"}
        (spec_folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        # A session of its own: Ctrl-C in the terminal reaches the test run, not the kernels it is running.
        self.server = subprocess.Popen([sys.executable, "-m", "helpers.tools.warm_kernels", "serve", self.socket_path,
                                        *self.modules], env=self.environment, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not os.path.exists(self.socket_path):
            if self.server.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the warm-kernel server did not start (its error is above)")
            time.sleep(0.01)
        return self

    def kernel_manager(self) -> AsyncKernelManager:
        """Return a new jupyter_client kernel manager whose kernel will be forked by this server."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager

        specs = KernelSpecManager(kernel_dirs=[str(self.folder / "kernels")])
        return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()  # a kernel still running goes when its launcher does
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def main(arguments: list[str]) -> None:
    """``serve SOCKET [MODULE ...]`` or ``launch SOCKET KERNEL_ARGUMENT ...``."""
    command, socket_path, *rest = arguments
    if command == "serve":
        serve(socket_path, tuple(rest))
    elif command == "launch":
        launch(socket_path, rest)
    else:
        raise SystemExit(f"unknown command {command!r}: use serve or launch")


if __name__ == "__main__":
    main(sys.argv[1:])
