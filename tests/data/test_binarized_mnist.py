import numpy as np
import pytest
import torch

from pyrovae.data import load_dataset
from pyrovae.data.sources.binarized_mnist import read_amat
from pyrovae.errors import DataError


def _write_all(root, writer, sizes=(5, 3, 4), gz=False, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        bits = rng.integers(0, 2, (n, 784))
        suffix = ".amat.gz" if gz else ".amat"
        writer(root / "binarized_mnist" / f"binarized_mnist_{split}{suffix}", bits)
        out[split] = bits
    return out


@pytest.mark.parametrize("gz", [False, True])
def test_tiny_files(tmp_path, amat_writer, gz):
    bits = _write_all(tmp_path, amat_writer, gz=gz)
    d = load_dataset("binarized-mnist", data_dir=tmp_path)
    assert d.event_shape == (1, 28, 28) and d.num_classes is None
    for s, n in zip(("train", "valid", "test"), (5, 3, 4)):
        split = d.split(s)
        assert split.x.shape == (n, 1, 28, 28) and split.y is None
        assert split.x.dtype == torch.float32
        assert torch.equal(split.x.reshape(n, 784), torch.as_tensor(bits[s], dtype=torch.float32))


def test_plain_preferred_over_gz(tmp_path, amat_writer):
    _write_all(tmp_path, amat_writer, gz=True, seed=0)
    bits = _write_all(tmp_path, amat_writer, gz=False, seed=1)
    d = load_dataset("binarized-mnist", data_dir=tmp_path)
    assert torch.equal(d.test.x.reshape(4, 784), torch.as_tensor(bits["test"], dtype=torch.float32))


def test_windows_line_endings_and_no_trailing_newline(tmp_path):
    rows = ["0 1" * 1 + " 0" * 782, "1" + " 1" * 783]
    p = tmp_path / "x.amat"
    p.write_bytes("\r\n".join(rows).encode())
    x = read_amat(p)
    assert x.shape == (2, 784) and x[0, :2].tolist() == [False, True] and x[1].all()


def test_wrong_row_length(tmp_path, amat_writer):
    _write_all(tmp_path, amat_writer)
    p = tmp_path / "binarized_mnist/binarized_mnist_valid.amat"
    lines = p.read_text().splitlines()
    lines[1] = lines[1] + " 1"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="binarized_mnist_valid.amat line 2 has 785 values"):
        load_dataset("binarized-mnist", data_dir=tmp_path)
    # same total count, but split unevenly over two rows
    lines[1] = lines[1][:-2]
    lines[0] = lines[0][:-2]
    lines[2] = lines[2] + " 0"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 1 has 783 values"):
        load_dataset("binarized-mnist", data_dir=tmp_path)


def test_bad_character(tmp_path, amat_writer):
    _write_all(tmp_path, amat_writer)
    p = tmp_path / "binarized_mnist/binarized_mnist_test.amat"
    p.write_text(p.read_text().replace("1", "0.5", 1))
    with pytest.raises(DataError, match="binarized_mnist_test.amat line 1: unexpected character"):
        load_dataset("binarized-mnist", data_dir=tmp_path)


def test_corrupt_gz(tmp_path, amat_writer):
    _write_all(tmp_path, amat_writer, gz=True)
    (tmp_path / "binarized_mnist/binarized_mnist_train.amat.gz").write_bytes(b"\x1f\x8bjunk")
    with pytest.raises(DataError, match="binarized_mnist_train.amat.gz"):
        load_dataset("binarized-mnist", data_dir=tmp_path)


def test_missing(tmp_path, amat_writer):
    with pytest.raises(DataError, match="binarized_mnist_train.amat.*does not exist"):
        load_dataset("binarized-mnist", data_dir=tmp_path / "nope")
    _write_all(tmp_path, amat_writer)
    (tmp_path / "binarized_mnist/binarized_mnist_test.amat").unlink()
    with pytest.raises(DataError, match="binarized_mnist_test.amat") as e:
        load_dataset("binarized-mnist", data_dir=tmp_path)
    assert "binarized_mnist_train" not in str(e.value)


def test_no_data_dir():
    with pytest.raises(DataError, match=r"set data\.dir to"):
        load_dataset("binarized-mnist")
