"""The NIH download, against a local HTTP server on loopback serving zips the tests build."""

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest
from durable_writes import assert_each_rename_is_durable, record_syncs_and_renames

from helpers import nih
from helpers.nih import DataDownloadError, download_nih


def build_zip(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


GOOD_MEMBERS = {
    "cell_images/Parasitized/C1P1thinF_IMG_20150604_111111_cell_1.png": b"png-1",
    "cell_images/Parasitized/Thumbs.db": b"windows thumbnail cache",
    "cell_images/Uninfected/C2P2thinF_IMG_20150604_111111_cell_2.png": b"png-2",
}


class Server:
    """A loopback HTTP server for one folder; ``truncate`` sends half of each file then hangs up."""

    def __init__(self, folder: Path):
        self.requests = 0
        self.truncate = False
        owner = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                owner.requests += 1
                if not owner.truncate:
                    return super().do_GET()
                data = (folder / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cell_images.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    instance = Server(served)
    instance.folder = served
    yield instance
    instance.httpd.shutdown()
    instance.httpd.server_close()


def leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_good_download_is_verified_extracted_and_then_reused(server, tmp_path):
    sha = build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    out = tmp_path / "data"
    root = download_nih(out, url=server.url, sha256=sha, kaggle_input=tmp_path / "no-kaggle")
    assert sorted(p.name for p in root.iterdir()) == ["Parasitized", "Uninfected"]
    assert not (root / "Parasitized" / "Thumbs.db").exists()
    assert (root / "Uninfected" / "C2P2thinF_IMG_20150604_111111_cell_2.png").read_bytes() == b"png-2"
    assert download_nih(out, url=server.url, sha256=sha, kaggle_input=tmp_path / "no-kaggle") == root
    assert server.requests == 1


def test_a_zip_already_downloaded_by_hand_is_used(server, tmp_path):
    out = tmp_path / "data"
    (out / "downloads").mkdir(parents=True)
    sha = build_zip(out / "downloads" / "cell_images.zip", GOOD_MEMBERS)
    root = download_nih(out, url=server.url, sha256=sha, kaggle_input=tmp_path / "no-kaggle")
    assert (root / "Parasitized").is_dir() and server.requests == 0


def test_bad_checksum_keeps_nothing(server, tmp_path):
    build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    out = tmp_path / "data"
    with pytest.raises(DataDownloadError, match="not the expected one"):
        download_nih(out, url=server.url, sha256="0" * 64, kaggle_input=tmp_path / "no-kaggle")
    assert leftovers(out) == []


def test_truncated_transfer_keeps_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setattr(nih, "RETRY_PAUSE_S", 0.01)  # the real pauses (2, 4, 8 s) would make this test 14 s long
    sha = build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    server.truncate = True
    out = tmp_path / "data"
    with pytest.raises(DataDownloadError, match="broke off"):
        download_nih(out, url=server.url, sha256=sha, kaggle_input=tmp_path / "no-kaggle")
    assert leftovers(out) == []


def test_member_escaping_the_folder_is_refused(server, tmp_path):
    members = {**GOOD_MEMBERS, "cell_images/../../escaped.png": b"evil"}
    sha = build_zip(server.folder / "cell_images.zip", members)
    out = tmp_path / "data"
    with pytest.raises(DataDownloadError, match="outside the data folder"):
        download_nih(out, url=server.url, sha256=sha, kaggle_input=tmp_path / "no-kaggle")
    assert not (tmp_path / "escaped.png").exists() and not (out.parent / "escaped.png").exists()
    assert not (out / "cell_images").exists() and not list(out.glob("cell_images.partial*"))


def test_offline_says_how_to_get_the_data_by_hand(tmp_path):
    with pytest.raises(DataDownloadError, match=r"download cell_images\.zip .* in a browser"):
        download_nih(tmp_path / "data", url="http://127.0.0.1:9/cell_images.zip", sha256="0" * 64,
                     kaggle_input=tmp_path / "no-kaggle")


def test_kaggle_copy_is_reused_without_downloading(tmp_path):
    kaggle = tmp_path / "kaggle-input"
    for name in ("Parasitized", "Uninfected"):
        (kaggle / "cell-images-for-detecting-malaria" / "cell_images" / "cell_images" / name).mkdir(parents=True)
    root = download_nih(tmp_path / "data", url="http://127.0.0.1:9/x.zip", kaggle_input=kaggle)
    assert root == kaggle / "cell-images-for-detecting-malaria" / "cell_images" / "cell_images"


@pytest.fixture
def runtimes(tmp_path, monkeypatch):
    """Stand-ins for Colab's and Kaggle's folders; the runtime itself is chosen by each test."""
    import sys
    import types

    from helpers import nih
    from helpers.course import paths

    folders = {"content": tmp_path / "content" / "data", "drive": tmp_path / "content" / "drive" / "MyDrive",
               "kaggle_input": tmp_path / "kaggle" / "input", "kaggle_working": tmp_path / "kaggle" / "working",
               "kaggle_temp": tmp_path / "kaggle" / "temp" / "data"}
    monkeypatch.delenv(paths.DATA_DIR_ENV_VAR, raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.setattr(paths, "COLAB_CONTENT_DIR", tmp_path / "content")
    monkeypatch.setattr(paths, "COLAB_DRIVE_MOUNT_POINT", tmp_path / "content" / "drive")
    monkeypatch.setattr(paths, "KAGGLE_WORKING_DIR", folders["kaggle_working"])
    monkeypatch.setattr(paths, "KAGGLE_TEMP_DIR", tmp_path / "kaggle" / "temp")
    monkeypatch.setattr(nih, "KAGGLE_INPUT", folders["kaggle_input"])
    folders["kaggle_working"].mkdir(parents=True)

    def become(runtime: str) -> None:
        if runtime == "colab":
            monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
        else:
            monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")

    folders["become"] = become
    return folders


def real_data_settings():
    from helpers.course.presets import resolve_settings

    return resolve_settings("full")


def test_colab_with_drive_keeps_the_zip_on_drive_for_the_next_runtime(server, runtimes):
    import shutil

    from helpers.course.prepare import prepare_cell_images

    sha = build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    runtimes["become"]("colab")
    runtimes["drive"].mkdir(parents=True)  # Drive is mounted
    root = prepare_cell_images(real_data_settings(), url=server.url, sha256=sha)
    assert root == runtimes["content"] / "cell_images" / "cell_images"  # extracted on the fast local disk
    kept = runtimes["drive"] / "pytorch-course" / "downloads" / "cell_images.zip"
    assert kept.is_file() and not (runtimes["content"] / "downloads").exists()
    shutil.rmtree(runtimes["content"])  # a new runtime: the local disk is empty, Drive is not
    root = prepare_cell_images(real_data_settings(), url=server.url, sha256=sha)
    assert (root / "Uninfected" / "C2P2thinF_IMG_20150604_111111_cell_2.png").is_file()
    assert server.requests == 1  # the zip on Drive was checked and reused, not downloaded again


def test_colab_without_drive_keeps_the_zip_on_the_runtime(server, runtimes):
    from helpers.course.prepare import prepare_cell_images

    sha = build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    runtimes["become"]("colab")
    prepare_cell_images(real_data_settings(), url=server.url, sha256=sha)
    assert (runtimes["content"] / "downloads" / "cell_images.zip").is_file()
    assert not runtimes["drive"].exists()


def test_kaggle_uses_the_attached_data_set_and_writes_nothing_to_working(runtimes):
    from helpers.course.prepare import prepare_cell_images

    attached = runtimes["kaggle_input"] / "cell-images-for-detecting-malaria" / "cell_images" / "cell_images"
    for name in ("Parasitized", "Uninfected"):
        (attached / name).mkdir(parents=True)
    runtimes["become"]("kaggle")
    assert prepare_cell_images(real_data_settings(), url="http://127.0.0.1:9/x.zip") == attached
    assert list(runtimes["kaggle_working"].iterdir()) == []


def test_kaggle_without_the_data_set_downloads_outside_working(server, runtimes):
    from helpers.course.prepare import prepare_cell_images

    sha = build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    runtimes["become"]("kaggle")
    root = prepare_cell_images(real_data_settings(), url=server.url, sha256=sha)
    assert root.is_relative_to(runtimes["kaggle_temp"])
    assert list(runtimes["kaggle_working"].iterdir()) == []


def test_the_downloaded_zip_is_synced_before_and_after_it_is_renamed(server, tmp_path, monkeypatch):
    sha = build_zip(server.folder / "cell_images.zip", GOOD_MEMBERS)
    events = record_syncs_and_renames(monkeypatch)
    download_nih(tmp_path / "data", url=server.url, sha256=sha, kaggle_input=tmp_path / "no-kaggle")
    assert_each_rename_is_durable(events, ["cell_images.zip"])
