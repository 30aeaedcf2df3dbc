"""The NIH download, against a local HTTP server on loopback serving zips the tests build."""

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

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


def test_truncated_transfer_keeps_nothing(server, tmp_path):
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
    assert not (out / "cell_images").exists() and not (out / "cell_images.partial").exists()


def test_offline_says_how_to_get_the_data_by_hand(tmp_path):
    with pytest.raises(DataDownloadError, match="download cell_images.zip .* in a browser"):
        download_nih(tmp_path / "data", url="http://127.0.0.1:9/cell_images.zip", sha256="0" * 64,
                     kaggle_input=tmp_path / "no-kaggle")


def test_kaggle_copy_is_reused_without_downloading(tmp_path):
    kaggle = tmp_path / "kaggle-input"
    for name in ("Parasitized", "Uninfected"):
        (kaggle / "cell-images-for-detecting-malaria" / "cell_images" / "cell_images" / name).mkdir(parents=True)
    root = download_nih(tmp_path / "data", url="http://127.0.0.1:9/x.zip", kaggle_input=kaggle)
    assert root == kaggle / "cell-images-for-detecting-malaria" / "cell_images" / "cell_images"
