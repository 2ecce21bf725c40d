"""MNIST loading: locate, (optionally) download, verify and parse the four idx files.

The files are looked up in :func:`mnist_dir`, i.e. ``$RC_DATA/mnist`` (see :func:`data_dir`).
Integrity is checked with the md5 of the *decompressed* bytes, because re-compressed copies
of MNIST have different ``.gz`` wrappers but identical content. Parsed arrays are kept in a
small in-process LRU cache keyed on the file's path, size and modification time, and are
returned read-only so that no caller can silently alter what later callers receive.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from rc._checks import check_choice

__all__ = [
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "MnistCorruptError",
    "MnistNotFoundError",
    "data_dir",
    "load_mnist",
    "mnist_dir",
]

#: File names of the images and labels of each split.
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: md5 of the decompressed content of each file (independent of the gzip wrapper).
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}

#: Public mirrors tried, in order, when a file is missing and downloads are allowed.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_N_ITEMS = {"train": 60000, "test": 10000}
_DOWNLOAD_TIMEOUT_S = 10.0


class MnistNotFoundError(FileNotFoundError):
    """An MNIST file is absent and could not be downloaded."""


class MnistCorruptError(ValueError):
    """An MNIST file exists but cannot be decompressed or has the wrong content."""


def data_dir() -> Path:
    """Root folder for data of the project.

    ``$RC_DATA`` when that variable is set and non-empty, otherwise a per-user cache folder
    (``$XDG_CACHE_HOME/rc`` or ``~/.cache/rc``). Nothing is created here.
    """
    root = os.environ.get("RC_DATA")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rc"


def mnist_dir() -> Path:
    """Folder holding the four MNIST ``.gz`` files: ``data_dir() / "mnist"``."""
    return data_dir() / "mnist"


def _downloads_disabled() -> bool:
    return os.environ.get("RC_NO_DOWNLOAD", "").strip().lower() not in ("", "0", "false", "no")


def _decompress(raw: bytes, path: Path) -> bytes:
    """gunzip ``raw``; a damaged archive becomes a :class:`MnistCorruptError`."""
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        expected = MNIST_MD5[path.name]
        raise MnistCorruptError(
            f"MNIST file {path} is corrupted: it cannot be decompressed ({exc}). "
            f"Expected md5 of the decompressed content {expected}; actual: unavailable "
            f"(md5 of the damaged .gz is {hashlib.md5(raw).hexdigest()}). "
            f"Delete it and put an intact copy there (or let it be downloaded again)."
        ) from exc


def _verified_content(raw: bytes, path: Path) -> bytes:
    """Decompress ``raw`` and check the md5 of the result against :data:`MNIST_MD5`."""
    content = _decompress(raw, path)
    expected = MNIST_MD5[path.name]
    actual = hashlib.md5(content).hexdigest()
    if actual != expected:
        raise MnistCorruptError(
            f"MNIST file {path} has the wrong content: md5 of the decompressed bytes is "
            f"{actual}, expected {expected}. Delete it and put an intact copy there "
            f"(or let it be downloaded again)."
        )
    return content


def _fetch(url: str, timeout: float) -> bytes:
    """Return the body at ``url`` (separate function so tests can replace it)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https only)
        return response.read()


def _try_download(path: Path) -> list[str]:
    """Try each mirror for ``path.name``; save the first verified copy atomically.

    Returns the list of failure descriptions (empty on success).
    """
    failures: list[str] = []
    for mirror in MNIST_MIRRORS:
        url = mirror + path.name
        try:
            raw = _fetch(url, _DOWNLOAD_TIMEOUT_S)
            _verified_content(raw, path)
        except Exception as exc:  # network errors, HTTP errors, bad content
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(raw)
                os.chmod(tmp, 0o644)  # mkstemp creates 0600
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            failures.append(f"could not save {path}: {exc}")
            return failures
        return []
    return failures


def _ensure_file(path: Path) -> None:
    """Make sure ``path`` exists, downloading it if allowed; else raise a helpful error."""
    if path.is_file():
        return
    if _downloads_disabled():
        reason = "downloads are disabled (RC_NO_DOWNLOAD is set)"
    else:
        failures = _try_download(path)
        if not failures:
            return
        reason = "download failed: " + "; ".join(failures)
    raise MnistNotFoundError(
        f"MNIST file {path.name} not found in {path.parent} and {reason}. "
        f"Copy the standard file {path.name} into {path.parent}, or set the environment "
        f"variable RC_DATA to a folder whose 'mnist' subfolder holds the four MNIST .gz files."
    )


def _parse_idx(content: bytes, source: str, ndim: int, count: int) -> np.ndarray:
    """Parse idx bytes of unsigned bytes with ``ndim`` dimensions and ``count`` items.

    The header is a 4-byte magic (two zero bytes, type code 0x08 for uint8, number of
    dimensions) followed by one big-endian uint32 per dimension.
    """
    if len(content) < 4 + 4 * ndim:
        raise MnistCorruptError(f"{source}: idx data too short for its header "
                                f"({len(content)} bytes)")
    zero, dtype_code, n_dims = struct.unpack(">HBB", content[:4])
    if zero != 0 or dtype_code != 0x08 or n_dims != ndim:
        raise MnistCorruptError(
            f"{source}: bad idx magic {content[:4].hex()}; expected 000008{ndim:02x} "
            f"(unsigned bytes, {ndim} dimension(s))"
        )
    dims = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    expected_dims = (count, 28, 28)[:ndim]
    if dims != expected_dims:
        raise MnistCorruptError(f"{source}: idx dimensions {dims}, expected {expected_dims}")
    body = content[4 + 4 * ndim :]
    size = int(np.prod(dims))
    if len(body) != size:
        raise MnistCorruptError(f"{source}: idx body has {len(body)} bytes, expected {size}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


@functools.lru_cache(maxsize=8)
def _load_idx_cached(path: str, size: int, mtime_ns: int, ndim: int, count: int) -> np.ndarray:
    """Read, verify and parse one idx file; ``size``/``mtime_ns`` only key the cache."""
    del size, mtime_ns
    file = Path(path)
    content = _verified_content(file.read_bytes(), file)
    array = _parse_idx(content, str(file), ndim, count).copy()
    array.setflags(write=False)
    return array


def _load_idx(path: Path, ndim: int, count: int) -> np.ndarray:
    _ensure_file(path)
    stat = path.stat()
    return _load_idx_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns, ndim, count)


def load_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the MNIST ``split`` (``"train"`` or ``"test"``) as ``(images, labels)``.

    ``images`` is uint8 of shape (N, 28, 28) with raw grey values 0..255, ``labels`` uint8
    of shape (N,) with digits 0..9; N is 60,000 for train and 10,000 for test. Both arrays
    are read-only (they are shared through an in-process cache); copy them to modify.

    Raises :class:`MnistNotFoundError` (a FileNotFoundError) when a file is missing and
    cannot be downloaded, and :class:`MnistCorruptError` (a ValueError) when a file is
    damaged or differs from the reference MNIST content.
    """
    check_choice(split, "MNIST split", ("train", "test"))
    image_file, label_file = MNIST_FILES[split]
    folder = mnist_dir()
    count = _N_ITEMS[split]
    images = _load_idx(folder / image_file, 3, count)
    labels = _load_idx(folder / label_file, 1, count)
    return images, labels
