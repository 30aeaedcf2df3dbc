"""Round 3 (issue 30): checksums written another way, servers that break off or send garbage, archives
with namesakes or too much inside, and the leftovers of killed or manual extractions."""

import hashlib
import http.server
import io
import os
import threading
import zipfile

import pytest
from hostile import assert_clear_error

from helpers import nih
from helpers.nih import download_nih, download_zip, safe_extract


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


CELLS = zip_bytes([(f"cell_images/{cls}/C{i}P{i}_cell_{i}.png", os.urandom(2_000))
                   for cls in ("Parasitized", "Uninfected") for i in range(20)])
CELLS_SHA256 = hashlib.sha256(CELLS).hexdigest()


class BreakingServer:
    """Serves CELLS; ``mode`` says how: normal, break (half, then the connection closes, Range honoured),
    break-no-range (half, Range ignored), always-break, garbage-length."""

    def __init__(self):
        self.mode, self.requests = "normal", []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                owner.requests.append(self.headers.get("Range"))
                start = 0
                if self.headers.get("Range") and owner.mode == "break":
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                body = CELLS[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(CELLS) - 1}/{len(CELLS)}")
                self.send_header("Content-Length", "abc" if owner.mode == "garbage-length" else str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                breaks = owner.mode == "always-break" or (owner.mode in ("break", "break-no-range")
                                                          and len(owner.requests) == 1)
                self.wfile.write(body[:len(body) // 2] if breaks else body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cell_images.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(nih, "RETRY_PAUSE_S", 0.01, raising=False)
    instance = BreakingServer()
    yield instance
    instance.httpd.shutdown()
    instance.httpd.server_close()


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("written", ["upper", "newline", "spaces", "prefix"])
def test_a_checksum_written_another_way_still_matches_and_nothing_is_deleted(server, tmp_path, written):
    sha = {"upper": CELLS_SHA256.upper(), "newline": CELLS_SHA256 + "\n", "spaces": f"  {CELLS_SHA256} ",
           "prefix": f"sha256:{CELLS_SHA256}"}[written]
    path = download_zip(tmp_path / "downloads", server.url, sha)
    assert path.read_bytes() == CELLS
    downloads = tmp_path / "downloads"
    assert download_zip(downloads, server.url, sha) == path and len(server.requests) == 1  # reused, kept


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("sha", ["", "abc", "g" * 64, CELLS_SHA256[:63], CELLS_SHA256 + "0", None, 12],
                         ids=["empty", "short", "not-hex", "63-digits", "65-digits", "none", "a-number"])
def test_a_checksum_that_is_not_one_is_refused_before_downloading(server, tmp_path, sha):
    with pytest.raises(Exception) as caught:
        download_nih(tmp_path / "data", url=server.url, sha256=sha, kaggle_input=tmp_path / "none")
    assert_clear_error(caught.value, "not a SHA-256")
    assert server.requests == []


@pytest.mark.attack("raw traceback")
def test_a_garbage_content_length_is_treated_as_unknown(server, tmp_path):
    server.mode = "garbage-length"
    assert download_zip(tmp_path / "downloads", server.url, CELLS_SHA256).read_bytes() == CELLS


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("mode, ranges", [("break", [None, f"bytes={len(CELLS) // 2}-"]),
                                          ("break-no-range", [None, f"bytes={len(CELLS) // 2}-"])])
def test_a_broken_download_is_resumed_or_restarted(server, tmp_path, mode, ranges):
    server.mode = mode
    path = download_zip(tmp_path / "downloads", server.url, CELLS_SHA256)
    assert path.read_bytes() == CELLS and server.requests == ranges
    assert sorted(p.name for p in path.parent.iterdir()) == ["cell_images.zip"]


def test_a_download_that_always_breaks_gives_up_after_a_few_tries(server, tmp_path):
    server.mode = "always-break"
    with pytest.raises(Exception) as caught:
        download_zip(tmp_path / "downloads", server.url, CELLS_SHA256)
    assert_clear_error(caught.value, "broke off")
    assert len(server.requests) == nih.MAX_ATTEMPTS
    assert list((tmp_path / "downloads").iterdir()) == []


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("names", [["a/x.png", "a/x.png"], ["a/x.png", "a/X.png"], ["a/x.png", "a/./x.png"],
                                   ["a/x.png", "a//x.png"]])
def test_an_archive_whose_members_land_on_one_file_is_refused(tmp_path, names):
    archive = tmp_path / "cells.zip"
    with pytest.warns(UserWarning) if names[0] == names[1] else _nothing():
        archive.write_bytes(zip_bytes([(names[0], b"first"), (names[1], b"second")]))
    with pytest.raises(Exception) as caught:
        safe_extract(archive, tmp_path / "out")
    assert_clear_error(caught.value, "same file")
    assert not any((tmp_path / "out").rglob("*.png"))


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("expanded_mb", [3, 30])
def test_an_archive_that_expands_past_the_cap_is_refused_before_writing(tmp_path, expanded_mb):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("cell_images/Parasitized/a.png", b"\0" * (expanded_mb * 1024 * 1024))
    assert archive.stat().st_size < 100_000  # a few kB that expand to megabytes
    with pytest.raises(Exception) as caught:
        safe_extract(archive, tmp_path / "out", max_bytes=2 * 1024 * 1024)
    assert_clear_error(caught.value, "expand")
    assert not any((tmp_path / "out").rglob("*.png"))


@pytest.mark.attack("data loss")
def test_the_partial_folder_of_a_killed_extraction_is_removed_by_the_next(server, tmp_path):
    out = tmp_path / "data"
    dead = out / f"cell_images.partial-{2**22 + 99}-k3j9x"
    (dead / "cell_images" / "Parasitized").mkdir(parents=True)
    (dead / "cell_images" / "Parasitized" / "C1P1_cell_1.png").write_bytes(b"half")
    live = out / f"cell_images.partial-{os.getppid()}-abcde"
    live.mkdir()
    root = download_nih(out, url=server.url, sha256=CELLS_SHA256, kaggle_input=tmp_path / "none")
    assert sorted(p.name for p in (root / "Parasitized").iterdir())[:1] == ["C0P0_cell_0.png"]
    assert not dead.exists() and live.is_dir()


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("half", ["Parasitized only", "empty folder", "a file"])
def test_a_half_manual_unzip_is_named_and_left_alone(server, tmp_path, half):
    out = tmp_path / "data"
    out.mkdir()
    folder = out / "cell_images"
    if half == "a file":
        folder.write_text("mine")
    else:
        folder.mkdir()
        if half == "Parasitized only":
            (folder / "Parasitized").mkdir()
            (folder / "Parasitized" / "C1P1_cell_1.png").write_bytes(b"a learner's half unzip")
    before = sorted(str(p) for p in out.rglob("*"))
    for _ in range(2):  # every try gives the same message, and leaves no copy behind
        with pytest.raises(Exception) as caught:
            download_nih(out, url=server.url, sha256=CELLS_SHA256, kaggle_input=tmp_path / "none")
        assert_clear_error(caught.value, "cut short", "move it away")
    assert sorted(str(p) for p in out.rglob("*")) == before
