"""Round 3 (issue 30): course folders pointed at files or unknown homes, and a warm-kernel server over a
stale socket."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from hostile import assert_clear_error

from helpers.course import facts, paths

FOLDERS = {"COURSE_DATA_DIR": paths.data_dir, "COURSE_CHECKPOINT_DIR": paths.default_checkpoint_dir}


def pointing(tmp_path, where):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    return {"a file": str(blocker), "below a file": str(blocker / "data"),
            "an unknown user's home": "~nosuchuser_course/data", "below a file, deeper": str(blocker / "a" / "b")}[where]


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("variable", FOLDERS)
@pytest.mark.parametrize("where", ["a file", "below a file", "an unknown user's home", "below a file, deeper"])
def test_a_course_folder_pointed_wrong_is_named_with_its_variable(tmp_path, monkeypatch, variable, where):
    monkeypatch.setenv(variable, pointing(tmp_path, where))
    with pytest.raises(Exception) as caught:
        FOLDERS[variable]()
    assert_clear_error(caught.value, variable)
    assert not isinstance(caught.value, (FileExistsError, NotADirectoryError, RuntimeError))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_good_folder_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA_DIR", "~/course-data")
    assert paths.data_dir() == tmp_path / "course-data" and (tmp_path / "course-data").is_dir()


@pytest.fixture
def short_folder():
    """Unix socket paths are limited to about 100 bytes: pytest's tmp_path can be longer."""
    folder = tempfile.mkdtemp(prefix="sock-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def stale_socket(path):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays; nobody listens: what a killed server leaves


def test_a_live_server_or_a_file_at_the_path_is_left_alone(short_folder):
    from helpers.tools.warm_kernels import listening_socket

    path = os.path.join(short_folder, "server")
    live = listening_socket(path)
    try:
        with pytest.raises(SystemExit, match="already listens"):
            listening_socket(path)
    finally:
        live.close()
    os.unlink(path)
    with open(path, "w") as file:
        file.write("mine")
    with pytest.raises(SystemExit, match="is not a socket"):
        listening_socket(path)
    with open(path) as file:
        assert file.read() == "mine"


@pytest.mark.slow
@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("stale", [["server"], ["server.new"], ["server", "server.new"]])
def test_serve_over_a_stale_socket_starts(short_folder, stale):
    path = os.path.join(short_folder, "server")
    for name in stale:
        stale_socket(os.path.join(short_folder, name))
    server = subprocess.Popen([sys.executable, "-m", "helpers.tools.warm_kernels", "serve", path, "json"],
                              cwd=facts.CHECKOUT_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                client.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                client.close()
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
