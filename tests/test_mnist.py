"""Tests of rc.mnist: locating, verifying, parsing and (mocked) downloading MNIST.

Tests that need the real files find them through the RC_DATA environment variable as it
is when the tests start (CI points it at the shared data folder) and skip otherwise. No
test touches the network: downloads are disabled or the fetch function is replaced.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from rc import mnist
from rc.mnist import (
    MNIST_FILES,
    MNIST_MD5,
    MnistCorruptError,
    MnistNotFoundError,
    data_dir,
    load_mnist,
    mnist_dir,
)

ALL_FILES = [f for pair in MNIST_FILES.values() for f in pair]


def _real_mnist_dir() -> Path | None:
    root = os.environ.get("RC_DATA")
    if not root:
        return None
    folder = Path(root).expanduser().resolve() / "mnist"
    return folder if all((folder / f).is_file() for f in ALL_FILES) else None


REAL_MNIST = _real_mnist_dir()
needs_mnist = pytest.mark.skipif(REAL_MNIST is None, reason="real MNIST not found via RC_DATA")


@pytest.fixture
def real_data(monkeypatch) -> Path:
    """RC_DATA pointing at the real MNIST files (downloads disabled)."""
    assert REAL_MNIST is not None
    monkeypatch.setenv("RC_DATA", str(REAL_MNIST.parent))
    monkeypatch.setenv("RC_NO_DOWNLOAD", "1")
    return REAL_MNIST


@pytest.fixture
def empty_data(monkeypatch, tmp_path) -> Path:
    """An empty RC_DATA folder with downloads disabled; returns its mnist folder."""
    monkeypatch.setenv("RC_DATA", str(tmp_path))
    monkeypatch.setenv("RC_NO_DOWNLOAD", "1")
    folder = tmp_path / "mnist"
    folder.mkdir()
    return folder


# ------------------------------------------------------------------ locations
def test_data_dir_prefers_rc_data(monkeypatch, tmp_path):
    monkeypatch.setenv("RC_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    assert mnist_dir() == tmp_path / "mnist"


def test_data_dir_falls_back_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("RC_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_dir() == tmp_path / "rc"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "rc"


def test_empty_rc_data_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("RC_DATA", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_dir() == tmp_path / "rc"


# ------------------------------------------------------------------ real files
@needs_mnist
@pytest.mark.parametrize("split, count", [("train", 60000), ("test", 10000)])
def test_load_real_mnist(real_data, split, count):
    images, labels = load_mnist(split)
    assert images.shape == (count, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (count,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
    # Well-known first labels of each split.
    first = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4] if split == "train" else [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert labels[:10].tolist() == first


@needs_mnist
def test_arrays_are_cached_and_read_only(real_data):
    images, labels = load_mnist("test")
    again_images, again_labels = load_mnist("test")
    assert again_images is images and again_labels is labels
    assert not images.flags.writeable and not labels.flags.writeable
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1


def test_unknown_split():
    with pytest.raises(ValueError, match="train"):
        load_mnist("validation")


# ------------------------------------------------------------------ missing files
def test_missing_file_names_file_directory_and_rc_data(empty_data):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("test")
    message = str(info.value)
    assert isinstance(info.value, MnistNotFoundError)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert str(empty_data) in message
    assert "RC_DATA" in message


def test_missing_folder_entirely(monkeypatch, tmp_path):
    monkeypatch.setenv("RC_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("RC_NO_DOWNLOAD", "1")
    with pytest.raises(MnistNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist("train")


# ------------------------------------------------------------------ corrupted files
def _fake_idx(ndim: int, dims: tuple[int, ...], body: bytes | None = None) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, ndim) + struct.pack(f">{ndim}I", *dims)
    return header + (bytes(int(np.prod(dims))) if body is None else body)


def test_not_a_gzip_file(empty_data):
    (empty_data / "t10k-images-idx3-ubyte.gz").write_bytes(b"this is not gzip data" * 10)
    with pytest.raises(ValueError) as info:
        load_mnist("test")
    message = str(info.value)
    assert isinstance(info.value, MnistCorruptError)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert MNIST_MD5["t10k-images-idx3-ubyte.gz"] in message


def test_truncated_gzip(empty_data):
    data = gzip.compress(_fake_idx(3, (10000, 28, 28)))
    (empty_data / "t10k-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(MnistCorruptError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist("test")


def test_valid_gzip_with_wrong_content(empty_data):
    content = _fake_idx(3, (10000, 28, 28))
    (empty_data / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(content))
    with pytest.raises(MnistCorruptError) as info:
        load_mnist("test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert MNIST_MD5["t10k-images-idx3-ubyte.gz"] in message  # expected
    assert hashlib.md5(content).hexdigest() in message  # actual


@needs_mnist
def test_flipped_bytes_in_real_copy(empty_data):
    for name in ALL_FILES:
        shutil.copy(REAL_MNIST / name, empty_data / name)
    target = empty_data / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4] = bytes(b ^ 0xFF for b in data[middle : middle + 4])
    target.write_bytes(bytes(data))
    with pytest.raises(MnistCorruptError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist("test")


@needs_mnist
def test_truncated_real_copy(empty_data):
    for name in ALL_FILES:
        shutil.copy(REAL_MNIST / name, empty_data / name)
    target = empty_data / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])
    with pytest.raises(MnistCorruptError, match=MNIST_MD5["t10k-labels-idx1-ubyte.gz"]):
        load_mnist("test")


# ------------------------------------------------------------------ idx parsing
def test_parse_idx_accepts_valid_header():
    body = bytes(range(256)) * 5
    array = mnist._parse_idx(_fake_idx(1, (1280,), body), "x", ndim=1, count=1280)
    assert array.shape == (1280,) and array[255] == 255


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"\x00\x00", "too short"),
        (struct.pack(">HBB", 0, 0x0D, 1) + struct.pack(">I", 3) + bytes(3), "magic"),
        (struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", 3, 1, 1) + bytes(3), "magic"),
        (_fake_idx(1, (4,)), "dimensions"),
        (_fake_idx(1, (3,), bytes(2)), "body"),
    ],
)
def test_parse_idx_rejects_bad_data(content, problem):
    with pytest.raises(ValueError, match=problem):
        mnist._parse_idx(content, "x", ndim=1, count=3)


# ------------------------------------------------------------------ downloads (mocked)
@needs_mnist
def test_download_saves_verified_file(monkeypatch, empty_data):
    monkeypatch.delenv("RC_NO_DOWNLOAD")
    fetched: list[str] = []

    def fake_fetch(url: str, timeout: float) -> bytes:
        fetched.append(url)
        return (REAL_MNIST / url.rsplit("/", 1)[1]).read_bytes()

    monkeypatch.setattr(mnist, "_fetch", fake_fetch)
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert sorted(p.name for p in empty_data.iterdir()) == sorted(MNIST_FILES["test"])
    assert all(url.startswith(mnist.MNIST_MIRRORS[0]) for url in fetched)


def test_failed_download_reports_mirrors(monkeypatch, empty_data):
    monkeypatch.delenv("RC_NO_DOWNLOAD")

    def offline(url: str, timeout: float) -> bytes:
        raise OSError("network is unreachable")

    monkeypatch.setattr(mnist, "_fetch", offline)
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist("test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message and str(empty_data) in message
    assert "RC_DATA" in message and "network is unreachable" in message
    assert all(m in message for m in mnist.MNIST_MIRRORS)
    assert list(empty_data.iterdir()) == []


def test_downloaded_garbage_is_not_saved(monkeypatch, empty_data):
    monkeypatch.delenv("RC_NO_DOWNLOAD")
    monkeypatch.setattr(mnist, "_fetch", lambda url, timeout: gzip.compress(b"wrong"))
    with pytest.raises(MnistNotFoundError, match="md5"):
        load_mnist("test")
    assert list(empty_data.iterdir()) == []


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_no_download_switch(monkeypatch, empty_data, value):
    monkeypatch.setenv("RC_NO_DOWNLOAD", value)
    monkeypatch.setattr(mnist, "_fetch", lambda url, timeout: pytest.fail("must not fetch"))
    with pytest.raises(MnistNotFoundError, match="RC_NO_DOWNLOAD"):
        load_mnist("train")
