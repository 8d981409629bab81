import numpy as np
import pytest
import torch

from pyrovae.data import load_dataset
from pyrovae.data.sources import idx
from pyrovae.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_tiny_files(tmp_path, mnist_writer, gz, name, folder):
    arrays = mnist_writer(tmp_path, n_train=12, n_test=6, gz=gz, folder=folder)
    d = load_dataset(name, data_dir=tmp_path, valid_fraction=0.25)
    assert d.event_shape == (1, 28, 28)
    # <= 10 000 training images: valid is carved out of train with valid_fraction
    assert (len(d.train), len(d.valid), len(d.test)) == (9, 3, 6)
    test_x = torch.as_tensor(arrays["t10k-images-idx3-ubyte"]).float()[:, None] / 255
    assert torch.allclose(d.test.x, test_x)
    assert d.test.y.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    # train + valid are the training file; labels stay with their images
    train_x = torch.cat([d.train.x, d.valid.x]) * 255
    train_y = torch.cat([d.train.y, d.valid.y])
    ref = {bytes(a.tobytes()): int(l) for a, l in zip(arrays["train-images-idx3-ubyte"],
                                                     arrays["train-labels-idx1-ubyte"])}
    got = {bytes(x.round().to(torch.uint8).squeeze(0).numpy().tobytes()): int(l)
           for x, l in zip(train_x, train_y)}
    assert got == ref
    assert d.num_classes == int(max(arrays["train-labels-idx1-ubyte"].max(),
                                    arrays["t10k-labels-idx1-ubyte"].max())) + 1


def test_fixed_split_above_10000(tmp_path, mnist_writer):
    arrays = mnist_writer(tmp_path, n_train=10_005, n_test=3)
    d = load_dataset("mnist", data_dir=tmp_path)
    assert (len(d.train), len(d.valid), len(d.test)) == (5, 10_000, 3)
    ref = torch.as_tensor(arrays["train-images-idx3-ubyte"]).float()[:, None] / 255
    assert torch.equal(d.train.x, ref[:5]) and torch.equal(d.valid.x, ref[5:])
    assert d.valid.y.tolist() == arrays["train-labels-idx1-ubyte"][5:].tolist()


def test_plain_preferred_but_gz_accepted_mixed(tmp_path, mnist_writer):
    mnist_writer(tmp_path, gz=True)
    arrays = mnist_writer(tmp_path, gz=False, seed=1)  # unpacked next to the .gz, as torchvision
    d = load_dataset("mnist", data_dir=tmp_path)
    assert d.test.y.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_corrupt_magic(tmp_path, mnist_writer, idx_writer):
    arrays = mnist_writer(tmp_path, gz=True)
    bad = idx_writer(tmp_path / "MNIST/raw/t10k-images-idx3-ubyte.gz",
                     arrays["t10k-images-idx3-ubyte"], magic=0x0D03)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*magic"):
        load_dataset("mnist", data_dir=tmp_path)
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", data_dir=tmp_path)


def test_truncated_file(tmp_path, mnist_writer):
    mnist_writer(tmp_path, gz=False)
    p = tmp_path / "MNIST/raw/train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DataError, match="train-images-idx3-ubyte is corrupt"):
        load_dataset("mnist", data_dir=tmp_path)


def test_label_count_mismatch(tmp_path, mnist_writer, idx_writer):
    mnist_writer(tmp_path, gz=False)
    idx_writer(tmp_path / "MNIST/raw/train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="12 images but .* 5 labels"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist.*MNIST/raw"):
        load_dataset("mnist", data_dir=tmp_path / "nope")


def test_missing_files(tmp_path, mnist_writer):
    mnist_writer(tmp_path)
    (tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"MNIST/raw/t10k-labels-idx1-ubyte\[\.gz\]") as e:
        load_dataset("mnist", data_dir=tmp_path)
    assert "train-images" not in str(e.value)
    with pytest.raises(DataError, match="FashionMNIST/raw/train-images-idx3-ubyte"):
        load_dataset("fashion-mnist", data_dir=tmp_path)


def test_data_dir_tilde_expanded(tmp_path, mnist_writer, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    mnist_writer(tmp_path / "d")
    assert len(load_dataset("mnist", data_dir="~/d").test) == 6


def test_download_failure_is_data_error(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("PYROVAE_CACHE", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError, match=r"no network.*data\.dir"):
        load_dataset("mnist")


def test_download_uses_cache(tmp_path, monkeypatch, mnist_writer):
    import torchvision

    calls = []
    monkeypatch.setenv("PYROVAE_CACHE", str(tmp_path))

    def fake_download(root, download):
        calls.append((root, download))
        mnist_writer(tmp_path, gz=True)

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_download)
    assert idx.cache_dir() == tmp_path
    assert len(load_dataset("mnist").test) == 6
    assert calls == [(str(tmp_path), True)]
    load_dataset("mnist")  # files now cached: no second download
    assert len(calls) == 1
