"""Kernels forked by helpers.tools.warm_kernels behave as ordinary kernels: their own process, folder,
environment and process group; an interrupt reaches the running cell; a killed launcher takes its kernel
(and what the kernel started) with it. The server here preloads the standard library's ``fractions``, so
the tests stay fast; the suite's smoke runs preload torch."""

import asyncio
import os
import sys
import time

import pytest

from helpers.tools import warm_kernels
from helpers.tools.warm_kernels import WarmKernels

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not warm_kernels.available(), reason="warm kernels fork: Linux only")]
PRELOADED = ("fractions",)


async def printed(manager, code: str, timeout: float = 30) -> str:
    """Run ``code`` and return its standard output."""
    client = manager.client()
    client.start_channels()
    chunks = []

    def keep(message):
        if message["msg_type"] == "stream":
            chunks.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            chunks.append(f"{message['content']['ename']}: {message['content']['evalue']}")

    try:
        await client.wait_for_ready(timeout=timeout)
        await client.execute_interactive(code, timeout=timeout, output_hook=keep)
    finally:
        client.stop_channels()
    return "".join(chunks)


@pytest.fixture(scope="module")
def kernels():
    with WarmKernels(dict(os.environ), modules=PRELOADED) as server:
        yield server


def test_a_kernel_has_its_folder_environment_and_the_preloaded_modules(kernels, tmp_path):
    async def scenario():
        manager = kernels.kernel_manager()
        await manager.start_kernel(cwd=str(tmp_path), env={**os.environ, "COURSE_PROBE": "seen"})
        try:
            return await printed(manager, "import os, sys\n"
                                          "print(os.getcwd(), sys.path[0], os.environ['COURSE_PROBE'],\n"
                                          "      'fractions' in sys.modules, os.getpgid(0) == os.getpid())")
        finally:
            await manager.shutdown_kernel(now=True)

    assert asyncio.run(scenario()).split() == [str(tmp_path), str(tmp_path), "seen", "True", "True"]


def test_two_kernels_share_nothing_they_ran(kernels, tmp_path):
    async def scenario():
        first, second = kernels.kernel_manager(), kernels.kernel_manager()
        await first.start_kernel(cwd=str(tmp_path))
        await second.start_kernel(cwd=str(tmp_path))
        try:
            await printed(first, "import fractions; fractions.SHARED = 1; secret = 2")
            return (await printed(first, "import os; print(os.getpid())"),
                    await printed(second, "import os, fractions\n"
                                          "print(os.getpid(), hasattr(fractions, 'SHARED'), 'secret' in dir())"))
        finally:
            await first.shutdown_kernel(now=True)
            await second.shutdown_kernel(now=True)

    first_pid, second_output = asyncio.run(scenario())
    second_pid, shared, secret = second_output.split()
    assert first_pid.strip() != second_pid and (shared, secret) == ("False", "False")


def test_an_interrupt_stops_the_running_cell(kernels, tmp_path):
    async def scenario():
        manager = kernels.kernel_manager()
        await manager.start_kernel(cwd=str(tmp_path))
        try:
            running = asyncio.ensure_future(printed(manager, "import time; time.sleep(60)", timeout=60))
            await asyncio.sleep(2)
            await manager.interrupt_kernel()
            return await asyncio.wait_for(running, 20)
        finally:
            await manager.shutdown_kernel(now=True)

    started = time.monotonic()
    assert "KeyboardInterrupt" in asyncio.run(scenario())
    assert time.monotonic() - started < 30


def test_a_killed_kernel_takes_what_it_started_with_it(kernels, tmp_path):
    async def scenario():
        manager = kernels.kernel_manager()
        await manager.start_kernel(cwd=str(tmp_path))
        started = await printed(manager, "import subprocess, sys\n"
                                         "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
                                         "print(child.pid)")
        await manager.shutdown_kernel(now=True)  # as the smoke runs stop a kernel: its launcher is killed
        return int(started)

    child_pid = asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child_pid)


def alive(pid: int) -> bool:
    """Return whether ``pid`` is a running process (a zombie, waiting for its parent to read its status, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_server_and_its_folder_are_gone_after_the_block():
    with WarmKernels(dict(os.environ), modules=PRELOADED) as server:
        assert server.server.poll() is None
    assert server.server.poll() is not None
    assert not server.folder.exists()


def test_a_server_that_cannot_import_its_modules_says_so():
    with pytest.raises(RuntimeError, match="did not start"), WarmKernels(dict(os.environ),
                                                                          modules=("no_such_module_here",)):
        pass


def test_the_launcher_tells_when_the_server_is_gone(tmp_path):
    import subprocess

    with WarmKernels(dict(os.environ), modules=PRELOADED) as server:
        socket_path = server.socket_path
    finished = subprocess.run([sys.executable, "-m", "helpers.tools.warm_kernels", "launch", socket_path],
                              capture_output=True, text=True, timeout=30)
    assert finished.returncode != 0
    assert "no warm-kernel server listens" in finished.stderr


def test_a_server_stops_when_the_process_that_started_it_is_killed():
    import subprocess

    orphaning = ("import os\nfrom helpers.tools.warm_kernels import WarmKernels\n"
                 "server = WarmKernels(dict(os.environ), modules=()).__enter__()\n"
                 "print(server.server.pid, flush=True)\nos._exit(0)  # as if killed: no clean-up\n")
    started = subprocess.run([sys.executable, "-c", orphaning], capture_output=True, text=True, timeout=60)
    server_pid = int(started.stdout)
    deadline = time.monotonic() + 15
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(server_pid)


def test_the_launcher_tells_when_the_server_stops_before_the_kernel_starts(tmp_path):
    import socket
    import subprocess
    import threading

    socket_path = str(tmp_path / "server")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(1)

    def accept_then_close():  # a server that dies between a launcher's request and the fork
        connection, _ = server.accept()
        connection.close()

    closing = threading.Thread(target=accept_then_close)
    closing.start()
    finished = subprocess.run([sys.executable, "-m", "helpers.tools.warm_kernels", "launch", socket_path],
                              capture_output=True, text=True, timeout=30)
    closing.join()
    server.close()
    assert finished.returncode != 0
    assert "stopped before starting a kernel" in finished.stderr
    assert "Traceback" not in finished.stderr
