"""Faults in time: stalled and trickling servers, and processes killed mid-download, mid-save and mid-generation.

Kills are real (SIGKILL, SIGTERM, SIGINT to a child process); the timeouts are
passed in small so that every test here takes seconds.
"""

import hashlib
import http.server
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers.checkpoints import CheckpointManager, full_checkpoint, load_checkpoint
from helpers.course import facts
from helpers.nih import DataDownloadError, download_zip
from helpers.synthetic import make_synthetic_cells

PAYLOAD = os.urandom(200_000)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class SlowServer:
    """A loopback server for PAYLOAD: ``mode`` decides how (normal, trickle, burst, silent, mute, missing)."""

    def __init__(self):
        self.mode = "normal"
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if owner.mode == "mute":  # accepts the connection, never answers
                    time.sleep(5)
                    return
                if owner.mode == "missing":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(PAYLOAD)))
                self.end_headers()
                try:
                    if owner.mode == "normal":
                        self.wfile.write(PAYLOAD)
                    elif owner.mode == "silent":
                        time.sleep(5)
                    else:
                        step, pause = (1, 0.05) if owner.mode == "trickle" else (4096, 0.05)
                        for start in range(0, len(PAYLOAD), step):
                            self.wfile.write(PAYLOAD[start:start + step])
                            self.wfile.flush()
                            time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cell_images.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def server():
    instance = SlowServer()
    yield instance
    instance.httpd.shutdown()
    instance.httpd.server_close()


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("mode, message", [("trickle", "stalled"), ("silent", "stalled"), ("burst", "did not finish within"),
                                           ("mute", "Cannot reach"), ("missing", "answered 404")])
def test_stalls_trickles_and_dead_servers_end_with_a_message_and_no_temp_file(server, tmp_path, mode, message):
    server.mode = mode
    started = time.monotonic()
    with pytest.raises(DataDownloadError, match=message):
        download_zip(tmp_path / "downloads", server.url, PAYLOAD_SHA256, deadline_s=1.0, stall_timeout_s=0.5,
                     stall_min_bytes=1024)
    assert time.monotonic() - started < 4  # no hang: the limits hold
    assert files_in(tmp_path / "downloads") == []


def test_a_hand_downloaded_zip_with_the_wrong_checksum_is_reported_with_both_and_kept(server, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "cell_images.zip").write_bytes(b"half a zip")
    with pytest.raises(DataDownloadError) as caught:
        download_zip(downloads, server.url, PAYLOAD_SHA256)
    assert PAYLOAD_SHA256 in str(caught.value) and hashlib.sha256(b"half a zip").hexdigest() in str(caught.value)
    assert (downloads / "cell_images.zip").read_bytes() == b"half a zip"


DOWNLOADER = textwrap.dedent("""
    import signal, sys
    from pathlib import Path
    from helpers.tools.cli import _terminate
    from helpers.nih import download_zip

    signal.signal(signal.SIGTERM, _terminate)  # as python -m helpers does
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal, even in a background job
    print("starting", flush=True)
    download_zip(Path(sys.argv[1]), sys.argv[2], sys.argv[3], stall_timeout_s=30, stall_min_bytes=1)
""")


def start_download(tmp_path, server):
    child = subprocess.Popen([sys.executable, "-c", DOWNLOADER, str(tmp_path / "downloads"), server.url, PAYLOAD_SHA256],
                             cwd=facts.CHECKOUT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "starting\n"
    deadline = time.monotonic() + 20
    while not any(name.endswith(".part") for name in files_in(tmp_path / "downloads")):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.05)
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_download_leaves_no_temp_file(server, tmp_path, sig):
    server.mode = "trickle"
    child = start_download(tmp_path, server)
    child.send_signal(sig)
    child.wait(timeout=20)
    assert child.returncode != 0
    assert files_in(tmp_path / "downloads") == []


def test_a_download_killed_outright_is_tidied_by_the_next_one(server, tmp_path):
    server.mode = "trickle"
    child = start_download(tmp_path, server)
    child.kill()
    child.wait(timeout=20)
    assert any(name.endswith(".part") for name in files_in(tmp_path / "downloads"))
    server.mode = "normal"
    path = download_zip(tmp_path / "downloads", server.url, PAYLOAD_SHA256)
    assert path.read_bytes() == PAYLOAD and files_in(tmp_path / "downloads") == ["cell_images.zip"]


def train_until_killed(folder, seed):
    """Save an epoch after another, ``best.pt`` when a random validation loss improves: forever."""
    torch.set_num_threads(1)
    manager = CheckpointManager(folder, keep_last=2, verbose=False)
    model, history, rng = nn.Linear(256, 256), {"best_epoch": 0, "valid_loss": []}, random.Random(seed)
    for epoch in range(1, 100_000):
        loss = rng.random()
        improved = not history["valid_loss"] or loss < min(history["valid_loss"])
        history["valid_loss"].append(loss)
        if improved:
            history["best_epoch"] = epoch
        with torch.no_grad():
            model.weight.fill_(epoch)
        manager.save(full_checkpoint(model, epoch=epoch, history=history), epoch=epoch, is_best=improved)


@pytest.mark.slow
@pytest.mark.parametrize("seed, delay", [(0, 0.05), (1, 0.2), (2, 0.35), (3, 0.5), (4, 0.65), (5, 0.8), (6, 0.95),
                                         (7, 1.1)])
def test_a_training_killed_at_any_moment_resumes_with_the_right_best_weights(tmp_path, seed, delay):
    # a forked child (torch already imported) killed with SIGKILL: a real kill, without a second torch import
    child = multiprocessing.get_context("fork").Process(target=train_until_killed, args=(tmp_path / "ckpt", seed))
    child.start()
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=20)
    assert child.exitcode == -signal.SIGKILL
    manager = CheckpointManager(tmp_path / "ckpt", verbose=False)
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "ckpt").iterdir())  # orphans removed
    checkpoint = manager.resume(nn.Linear(256, 256))
    if checkpoint is None:
        return  # killed before the first epoch was saved: a fresh start is right
    best_epoch = checkpoint["history"]["best_epoch"]
    assert torch.all(manager.best_model_state()["weight"] == best_epoch)
    assert load_checkpoint(manager.best_path)["epoch"] == best_epoch


GENERATOR = textwrap.dedent("""
    import sys
    from helpers.synthetic import make_synthetic_cells

    make_synthetic_cells(sys.argv[1], per_class=20_000, seed=0, image_size=48, workers=2)
""")


def partial_folders(parent):
    return [p for p in parent.iterdir() if ".partial-" in p.name] if parent.exists() else []


def start_generator(tmp_path, command):
    child = subprocess.Popen(command, cwd=facts.CHECKOUT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (partial_folders(tmp_path) and sum(1 for _ in partial_folders(tmp_path)[0].rglob("*.png")) > 50):
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.1)
    return child


def processes_started_with(argument: str) -> list[int]:
    """Return the ids of the processes whose command line holds ``argument`` (forked workers keep their parent's)."""
    found = []
    for process in Path("/proc").iterdir():
        try:
            if process.name.isdigit() and argument.encode() in (process / "cmdline").read_bytes().split(b"\0"):
                found.append(int(process.name))
        except OSError:  # the process ended while we looked
            continue
    return found


def image_count(tmp_path):
    return sum(1 for folder in partial_folders(tmp_path) for _ in folder.rglob("*.png"))


@pytest.mark.slow
def test_killing_the_generator_stops_its_workers_and_the_next_run_tidies_up(tmp_path):
    child = start_generator(tmp_path, [sys.executable, "-c", GENERATOR, str(tmp_path / "cells")])
    child.kill()
    child.wait(timeout=20)
    time.sleep(1.0)  # each worker finishes the image it is drawing, then sees its parent is gone
    settled = image_count(tmp_path)
    time.sleep(1.5)
    assert image_count(tmp_path) == settled, "workers kept writing after their parent was killed"
    assert processes_started_with(str(tmp_path / "cells")) == [], "workers outlived their parent"
    assert partial_folders(tmp_path) and not (tmp_path / "cells").exists()
    make_synthetic_cells(tmp_path / "cells", per_class=2, seed=0, image_size=16, workers=1)
    assert partial_folders(tmp_path) == [] and sorted(files_in(tmp_path)) == ["cells"]


@pytest.mark.slow
def test_terminating_the_data_command_removes_its_partial_folder(tmp_path):
    command = [sys.executable, "-m", "helpers", "data", "synthetic", "--out", str(tmp_path / "cells"),
               "--per-class", "20000", "--size", "48", "--workers", "2"]
    child = start_generator(tmp_path, command)
    child.terminate()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143 and b"Traceback" not in err
    assert files_in(tmp_path) == []
