import numpy as np
import pytest
import torch

from pyrovae.data import load_dataset
from pyrovae.errors import ConfigError, DataError


@pytest.mark.parametrize(
    "shape,event",
    [((40, 5), (5,)), ((40, 4, 3), (1, 4, 3)), ((40, 2, 4, 3), (2, 4, 3))],
)
def test_npy_shapes(tmp_path, shape, event):
    x = np.random.default_rng(0).random(shape)
    np.save(tmp_path / "x.npy", x)
    d = load_dataset(str(tmp_path / "x.npy"))
    assert d.event_shape == event
    assert (len(d.train), len(d.valid), len(d.test)) == (28, 4, 8)
    assert d.num_classes is None and d.train.y is None
    got = torch.cat([d.train.x, d.valid.x, d.test.x]).reshape(40, -1).double()
    ref = torch.as_tensor(x).reshape(40, -1)
    assert torch.allclose(got.sort(0).values, ref.sort(0).values)


@pytest.mark.parametrize("shape", [(40,), (40, 1, 2, 3, 4)])
def test_bad_shape(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape))
    with pytest.raises(DataError, match=r"accepted shapes are \(N, D\), \(N, H, W\)"):
        load_dataset(str(tmp_path / "x.npy"))


def test_uint8_scaled_float_kept_bool(tmp_path):
    np.save(tmp_path / "u.npy", np.full((20, 3), 255, np.uint8))
    assert load_dataset(str(tmp_path / "u.npy")).train.x.eq(1.0).all()
    np.save(tmp_path / "f.npy", np.full((20, 3), 7.5))
    d = load_dataset(str(tmp_path / "f.npy"))
    assert d.train.x.dtype == torch.float32 and d.train.x.eq(7.5).all()
    np.save(tmp_path / "b.npy", np.ones((20, 3), bool))
    assert load_dataset(str(tmp_path / "b.npy")).test.x.eq(1.0).all()


def test_npz_x_y(tmp_path):
    x = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    y = np.arange(50) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = load_dataset(str(tmp_path / "d.npz"))
    assert d.num_classes == 4
    for s in ("train", "valid", "test"):
        split = d.split(s)
        assert split.y.dtype == torch.int64
        assert torch.equal(split.y, (split.x[:, 0] / 3).long() % 4)  # labels aligned


def test_npz_fixed_splits(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.random((30, 6)), y_train=np.zeros(30, int),
             x_test=rng.random((7, 6)), y_test=np.ones(7, int))
    d = load_dataset(str(tmp_path / "d.npz"), valid_fraction=0.2)
    assert (len(d.train), len(d.valid), len(d.test)) == (24, 6, 7)  # valid carved from train
    assert d.test.y.eq(1).all() and d.valid.y.eq(0).all() and d.num_classes == 2
    np.savez(tmp_path / "e.npz", x_train=rng.random((30, 6)), x_valid=rng.random((5, 6)),
             x_test=rng.random((7, 6)))
    d = load_dataset(str(tmp_path / "e.npz"))
    assert (len(d.train), len(d.valid), len(d.test)) == (30, 5, 7)


def test_relative_path_in_data_dir(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 2)))
    assert len(load_dataset("x.npy", data_dir=tmp_path).test) == 4


def test_nan_values(tmp_path):
    x = np.zeros((100, 3))
    x[:, 1] = np.nan
    x[0, 0] = np.inf
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError, match=r"\d+ NaN/inf values in (train|valid|test) of .*x.npy; "
                                        "clean or impute"):
        load_dataset(str(tmp_path / "x.npy"))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.npz does not exist"):
        load_dataset(str(tmp_path / "nope.npz"))


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_corrupt_file(tmp_path, suffix):
    p = tmp_path / ("junk" + suffix)
    p.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(DataError, match="cannot read .*junk"):
        load_dataset(str(p))


def test_truncated_npz(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, x=np.zeros((100, 10)))
    p.write_bytes(p.read_bytes()[:600])
    with pytest.raises(DataError, match="t.npz"):
        load_dataset(str(p))


def test_missing_key(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((10, 2)), labels=np.zeros(10))
    with pytest.raises(DataError, match="no array 'x' or 'x_train' .*keys present: images, labels"):
        load_dataset(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", x_train=np.zeros((10, 2)), y_test=np.zeros(3, int))
    with pytest.raises(DataError, match="'y_test' but no 'x_test'"):
        load_dataset(str(tmp_path / "e.npz"))


def test_bad_labels(tmp_path):
    np.savez(tmp_path / "f.npz", x=np.zeros((20, 2)), y=np.zeros(20, float))
    with pytest.raises(DataError, match="labels must be integers"):
        load_dataset(str(tmp_path / "f.npz"))
    np.savez(tmp_path / "g.npz", x=np.zeros((20, 2)), y=np.zeros(19, int))
    with pytest.raises(DataError, match="20 examples but 19 labels"):
        load_dataset(str(tmp_path / "g.npz"))
    np.savez(tmp_path / "h.npz", x_train=np.zeros((20, 2)), y_train=np.zeros(20, int),
             x_test=np.zeros((5, 2)))
    with pytest.raises(DataError, match="label all splits or none"):
        load_dataset(str(tmp_path / "h.npz"))


def test_non_numeric(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b"]] * 20))
    with pytest.raises(DataError, match="numeric"):
        load_dataset(str(tmp_path / "s.npy"))


def test_mismatched_split_shapes(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((20, 2)), x_test=np.zeros((5, 3)))
    with pytest.raises(DataError, match="different example shapes"):
        load_dataset(str(tmp_path / "d.npz"))


def test_too_small_for_fractions(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    with pytest.raises(DataError, match="too few"):
        load_dataset(str(tmp_path / "x.npy"))


def test_options_rejected(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 2)))
    with pytest.raises(ConfigError, match="takes no options"):
        load_dataset(str(tmp_path / "x.npy"), options={"a": 1})
