"""Writers for tiny data files in the formats the sources read (IDX, .amat)."""

import gzip
import struct

import numpy as np
import pytest


def write_idx(path, array, magic=None):
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in .gz)."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 + array.ndim
    data = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_mnist(root, n_train=12, n_test=6, gz=True, folder="MNIST", seed=0):
    """Write random 28x28 MNIST-layout files under ``root/folder/raw``; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in arrays.items():
        write_idx(root / folder / "raw" / (name + (".gz" if gz else "")), a)
    return arrays


def write_amat(path, bits):
    """Write a 0/1 array of shape (N, D) as a Larochelle .amat text file (gz if .gz)."""
    text = "".join(" ".join(str(int(v)) for v in row) + "\n" for row in bits).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


@pytest.fixture
def idx_writer():
    return write_idx


@pytest.fixture
def mnist_writer():
    return write_mnist


@pytest.fixture
def amat_writer():
    return write_amat
