"""Downloading and preparing MNIST-format and CIFAR-10-format datasets from a local HTTP server.

The server on 127.0.0.1 serves small files the tests generate in each dataset's real format, with
their SHA-256; it can honour or ignore ranges, drop a connection half-way, or serve wrong bytes.
No test reaches the internet.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import pickle
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from conf.errors import UserError
from data import download as download_module
from data.download import RemoteFile
from data.prepare import load_split, main, prepare_dataset
from data.sources import SOURCES
from tests.conftest import compose_config


def idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def mnist_files(rng) -> dict[str, bytes]:
    train_y, test_y = np.arange(60) % 10, np.arange(20) % 10
    return {"train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (60, 28, 28))),
            "train-labels-idx1-ubyte.gz": idx_gz(train_y),
            "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (20, 28, 28))),
            "t10k-labels-idx1-ubyte.gz": idx_gz(test_y)}


def cifar_archive(rng) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
            batch = pickle.dumps({b"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                                  b"labels": list(np.arange(20) % 10)})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(batch)
            archive.addfile(info, io.BytesIO(batch))
    return buffer.getvalue()


class Server:
    """Serves `files` by path; `drop_once` paths are cut half-way the first time; `ranges` toggles 206."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range")))
                if path not in server.files:
                    self.send_error(404)
                    return
                body, start = server.files[path], 0
                if server.ranges and self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if path in server.drop_once:
                    server.drop_once.discard(path)
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, name: str, files: dict[str, bytes], monkeypatch, urls=None) -> None:
        """Serve `files` under `name/` and point dataset `name` at them (and at `urls` first)."""
        for file, content in files.items():
            self.files[f"{name}/{file}"] = content
        remotes = tuple(RemoteFile(file, (*(urls or ()), f"{self.url}{name}/{file}"),
                                   hashlib.sha256(content).hexdigest()) for file, content in files.items())
        monkeypatch.setitem(SOURCES, name, dataclasses.replace(SOURCES[name], files=remotes))


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(download_module.time, "sleep", lambda seconds: None)  # no back-off waits in tests
    served = Server()
    yield served
    served.httpd.shutdown()


def test_mnist_downloads_prepares_and_is_idempotent(server, monkeypatch, tmp_path, capsys):
    server.serve("mnist", mnist_files(np.random.default_rng(0)), monkeypatch)
    assert main(["mnist", "--data-dir", str(tmp_path)]) == 0
    folder = tmp_path / "mnist"
    cfg = compose_config("dataset=mnist").dataset
    counts = {split: len(load_split(folder, split, cfg.input_shape)[1]) for split in ("train", "val", "test")}
    assert counts == {"train": 50, "val": 10, "test": 20}  # val: 10% of each class of the training set, at least 1
    x, _ = load_split(folder, "test", cfg.input_shape)
    assert x.shape == (20, 28, 28, 1) and x.dtype == np.uint8
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["class_names"][:2] == ["0", "1"] and len(manifest["source"]) == 4
    assert sorted(p.name for p in (tmp_path / "downloads" / "mnist").iterdir()) == sorted(
        mnist_files(np.random.default_rng(0)))
    served = len(server.requests)
    capsys.readouterr()
    assert main(["mnist", "--data-dir", str(tmp_path)]) == 0
    assert "mnist: already prepared" in capsys.readouterr().out
    assert len(server.requests) == served  # nothing downloaded again


def test_cifar10_archive_is_read(server, monkeypatch, tmp_path):
    server.serve("cifar10", {"cifar-10-python.tar.gz": cifar_archive(np.random.default_rng(1))}, monkeypatch)
    folder = prepare_dataset(compose_config("dataset=cifar10").dataset, tmp_path, download=True)
    x, y = load_split(folder, "train", [32, 32, 3])
    assert x.shape == (90, 32, 32, 3) and len(load_split(folder, "test", [32, 32, 3])[1]) == 20
    assert set(np.unique(y)) == set(range(10))
    assert json.loads((folder / "manifest.json").read_text())["class_names"][0] == "airplane"


def test_a_partial_download_resumes_where_it_stopped(server, monkeypatch, tmp_path):
    files = mnist_files(np.random.default_rng(2))
    server.serve("mnist", files, monkeypatch)
    name = "train-images-idx3-ubyte.gz"
    (tmp_path / "downloads" / "mnist").mkdir(parents=True)
    half = len(files[name]) // 2
    (tmp_path / "downloads" / "mnist" / f"{name}.part").write_bytes(files[name][:half])
    prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path, download=True)
    assert (f"mnist/{name}", f"bytes={half}-") in server.requests
    assert (tmp_path / "downloads" / "mnist" / name).read_bytes() == files[name]
    assert not list((tmp_path / "downloads" / "mnist").glob("*.part"))


def test_a_dropped_connection_is_retried_and_resumed(server, monkeypatch, tmp_path):
    files = mnist_files(np.random.default_rng(3))
    server.serve("mnist", files, monkeypatch)
    server.drop_once = {"mnist/train-images-idx3-ubyte.gz"}
    prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path, download=True)
    requests = [r for r in server.requests if r[0] == "mnist/train-images-idx3-ubyte.gz"]
    assert len(requests) == 2 and requests[0][1] is None and requests[1][1].startswith("bytes=")
    assert (tmp_path / "downloads" / "mnist" / "train-images-idx3-ubyte.gz").read_bytes() == \
        files["train-images-idx3-ubyte.gz"]


def test_a_server_without_ranges_restarts_the_file(server, monkeypatch, tmp_path):
    files = mnist_files(np.random.default_rng(4))
    server.serve("mnist", files, monkeypatch)
    server.ranges = False
    server.drop_once = {"mnist/t10k-images-idx3-ubyte.gz"}
    prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path, download=True)
    assert (tmp_path / "downloads" / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes() == \
        files["t10k-images-idx3-ubyte.gz"]


def test_the_next_mirror_is_tried(server, monkeypatch, tmp_path):
    server.serve("mnist", mnist_files(np.random.default_rng(5)), monkeypatch, urls=(f"{server.url}gone/file",))
    prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path, download=True)
    assert ("gone/file", None) in server.requests


def test_a_checksum_mismatch_leaves_nothing(server, monkeypatch, tmp_path, capsys):
    files = mnist_files(np.random.default_rng(6))
    server.serve("mnist", files, monkeypatch)
    server.files["mnist/train-labels-idx1-ubyte.gz"] = b"tampered"
    assert main(["mnist", "--data-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: could not download train-labels-idx1-ubyte.gz from any of 1 address(es)")
    assert "served a file whose SHA-256 is not" in error and "place it at" in error
    assert not (tmp_path / "downloads" / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    assert not list((tmp_path / "downloads" / "mnist").glob("*.part")) and not (tmp_path / "mnist").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["downloads"]  # no half-prepared folder


def test_no_network_says_where_to_put_the_file(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(download_module.time, "sleep", lambda seconds: None)
    remote = RemoteFile("x.gz", ("http://127.0.0.1:9/x.gz",), "0" * 64)  # port 9: nothing listens
    with pytest.raises(UserError, match=r"could not download x.gz .*no connection.*place it at .*x.gz \(SHA-256 0000"):
        download_module.download(remote, tmp_path)


def test_preparing_with_no_network_leaves_no_empty_folders(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(download_module.time, "sleep", lambda seconds: None)
    dead = tuple(RemoteFile(r.name, (f"http://127.0.0.1:9/{r.name}",), r.sha256) for r in SOURCES["mnist"].files)
    monkeypatch.setitem(SOURCES, "mnist", dataclasses.replace(SOURCES["mnist"], files=dead))  # port 9: nothing
    assert main(["mnist", "--data-dir", str(tmp_path)]) == 2
    assert "could not download" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither downloads/ nor downloads/mnist/


def test_training_on_an_unprepared_download_names_the_command(tmp_path):
    with pytest.raises(UserError, match=r"dataset mnist is not prepared and needs a download: run "
                                        r"`python -m data.prepare mnist`"):
        prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path)


def test_a_hand_edited_prepared_folder_is_refused(server, monkeypatch, tmp_path):
    server.serve("mnist", mnist_files(np.random.default_rng(7)), monkeypatch)
    cfg = compose_config("dataset=mnist").dataset
    folder = prepare_dataset(cfg, tmp_path, download=True)
    shard = folder / "val" / "shard-00000.rec"
    shard.write_bytes(bytes(shard.stat().st_size))  # same size, other bytes
    with pytest.raises(UserError, match=r"val/shard-00000.rec is missing or was changed since data.prepare wrote it"):
        prepare_dataset(cfg, tmp_path)


def test_a_wrong_file_placed_by_hand_is_reported(tmp_path):
    (tmp_path / "x.gz").write_bytes(b"not it")
    with pytest.raises(UserError, match="is not the expected file"):
        download_module.download(RemoteFile("x.gz", ("http://127.0.0.1:9/x.gz",), "0" * 64), tmp_path)


def idx_raw(array: np.ndarray) -> bytes:
    return gzip.decompress(idx_gz(array))


def test_genuine_uncompressed_idx_files_placed_by_hand_are_accepted_offline(monkeypatch, tmp_path):
    """Some mirrors ship `train-images-idx3-ubyte` uncompressed: its own SHA-256 verifies it."""
    rng = np.random.default_rng(3)
    gz = mnist_files(rng)
    raw = {name.removesuffix(".gz"): gzip.decompress(content) for name, content in gz.items()}
    remotes = tuple(RemoteFile(name, ("http://127.0.0.1:9/" + name,), hashlib.sha256(content).hexdigest(),
                               (name.removesuffix(".gz"), hashlib.sha256(raw[name.removesuffix(".gz")]).hexdigest()))
                    for name, content in gz.items())
    monkeypatch.setitem(SOURCES, "mnist", dataclasses.replace(SOURCES["mnist"], files=remotes))
    downloads = tmp_path / "downloads" / "mnist"
    downloads.mkdir(parents=True)
    for name, content in raw.items():
        (downloads / name).write_bytes(content)
    folder = prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path)  # no download needed
    x, y = load_split(folder, "test")
    assert x.shape == (20, 28, 28) and x.dtype == np.uint8 and y.tolist() == list(np.arange(20) % 10)
    np.testing.assert_array_equal(x, np.frombuffer(raw["t10k-images-idx3-ubyte"][16:], np.uint8).reshape(20, 28, 28))
    (downloads / "t10k-labels-idx1-ubyte").write_bytes(idx_raw(np.zeros(20)))  # not the genuine file
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte is not the expected file"):
        prepare_dataset(compose_config("dataset=mnist").dataset, tmp_path, force=True)


def test_the_shipped_idx_checksums_cover_both_forms():
    for name in ("mnist", "fashion_mnist"):
        for remote in SOURCES[name].files:
            assert remote.unpacked[0] == remote.name.removesuffix(".gz") and len(remote.unpacked[1]) == 64
            assert remote.unpacked[1] != remote.sha256


def test_mnist_and_fashion_mnist_keep_their_downloads_apart(server, monkeypatch, tmp_path):
    """Both name their files train-images-idx3-ubyte.gz: each gets a folder of its own."""
    server.serve("mnist", mnist_files(np.random.default_rng(0)), monkeypatch)
    server.serve("fashion_mnist", mnist_files(np.random.default_rng(1)), monkeypatch)
    assert main(["mnist", "fashion_mnist", "--data-dir", str(tmp_path)]) == 0
    assert {p.name for p in (tmp_path / "downloads").iterdir()} == {"mnist", "fashion_mnist"}
    a, _ = load_split(tmp_path / "mnist", "test")
    b, _ = load_split(tmp_path / "fashion_mnist", "test")
    assert not np.array_equal(a, b)


def imdb_archive(reviews: dict[str, list[str]], extra: bool = True) -> bytes:
    """An archive of aclImdb_v1.tar.gz's layout: `aclImdb/<split>/<neg|pos>/<id>_<rating>.txt`, with
    unlabelled reviews and the vocabulary file beside them, as the real one has."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        def add(name: str, content: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))

        for key, texts in reviews.items():
            for index, text in enumerate(texts):
                add(f"aclImdb/{key}/{index}_{7 if key.endswith('pos') else 2}.txt", text.encode("utf-8"))
        if extra:
            add("aclImdb/imdb.vocab", b"the\nmovie\n")
            add("aclImdb/train/unsup/0_0.txt", b"unlabelled review")
    return buffer.getvalue()


def test_imdb_downloads_and_prepares_from_its_archive(server, monkeypatch, tmp_path):
    reviews = {"train/pos": [f"A great film, number {i}.<br /><br />Loved it." for i in range(12)],
               "train/neg": [f"Dull and long, part {i}." for i in range(12)],
               "test/pos": ["Great acting, a great film."] * 3, "test/neg": ["A dull plot; unforgettably bad."] * 3}
    served = imdb_archive(reviews)
    server.serve("imdb", {"aclImdb_v1.tar.gz": served}, monkeypatch)
    assert main(["imdb", "tokenizer.vocabulary_size=30", "--data-dir", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "imdb" / "manifest.json").read_text())
    assert {split: entry["count"] for split, entry in manifest["splits"].items()} == {"train": 22, "val": 2,
                                                                                      "test": 6}
    assert manifest["class_names"] == ["neg", "pos"]
    vocabulary = manifest["stats"]["tokenizer"]["vocabulary"]
    assert {"great", "film", "dull", "br"} <= set(vocabulary)
    assert "unforgettably" not in vocabulary and "unlabelled" not in vocabulary  # test and unsup: never fitted
    texts, labels = load_split(tmp_path / "imdb", "test")
    assert sorted(zip(labels.tolist(), texts)) == sorted(
        [(1, "Great acting, a great film.")] * 3 + [(0, "A dull plot; unforgettably bad.")] * 3)
    assert manifest["source"][0]["sha256"] == hashlib.sha256(served).hexdigest()


def test_an_imdb_archive_without_reviews_or_with_other_bytes_is_one_line(server, monkeypatch, tmp_path):
    server.serve("imdb", {"aclImdb_v1.tar.gz": imdb_archive({"test/pos": ["fine"]}, extra=False)}, monkeypatch)
    with pytest.raises(UserError, match=r"holds no review under aclImdb/train/neg or aclImdb/train/pos"):
        prepare_dataset(compose_config("dataset=imdb").dataset, tmp_path, download=True)
    assert not (tmp_path / "imdb").exists()
    latin = {"train/pos": ["good"] * 4, "train/neg": ["bad"] * 4, "test/pos": ["good"], "test/neg": ["bad"]}
    buffer = io.BytesIO()  # a well-formed archive, one of whose reviews is not UTF-8
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for key, texts in latin.items():
            for index, text in enumerate(texts):
                content = "très bon".encode("latin-1") if key == "train/pos" and index == 1 else text.encode()
                info = tarfile.TarInfo(f"aclImdb/{key}/{index}_7.txt")
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    server.serve("imdb", {"aclImdb_v1.tar.gz": buffer.getvalue()}, monkeypatch)
    with pytest.raises(UserError, match=r"aclImdb/train/pos/1_7.txt is not UTF-8 text: byte 2 \(0xe8\) cannot be "
                                        r"decoded"):
        prepare_dataset(compose_config("dataset=imdb").dataset, tmp_path / "other", download=True)
    assert not (tmp_path / "other" / "imdb").exists()
