import torch

from pyrovae.data import DATASETS, load_dataset


def test_registered_with_description():
    assert "digits" in DATASETS
    assert "8x8" in DATASETS.describe()["digits"]


def test_shapes_values_labels():
    d = load_dataset("digits")
    assert d.event_shape == (1, 8, 8)
    assert d.num_classes == 10
    assert d.binarize == "none"
    assert len(d.train) + len(d.valid) + len(d.test) == 1797
    assert len(d.test) == round(0.2 * 1797)
    assert len(d.valid) == round(0.1 * 1797)
    for s in ("train", "valid", "test"):
        split = d.split(s)
        assert split.x.dtype == torch.float32 and split.x.device.type == "cpu"
        assert split.x.shape[1:] == (1, 8, 8)
        assert split.x.min() >= 0 and split.x.max() <= 1
        assert split.y.dtype == torch.int64 and split.y.shape == (len(split),)
    all_x = torch.cat([d.train.x, d.valid.x, d.test.x])
    assert all_x.max() == 1.0  # 16 / 16 occurs
    assert set(torch.cat([d.train.y, d.valid.y, d.test.y]).tolist()) == set(range(10))


def test_splits_are_disjoint_and_cover_the_data():
    from sklearn.datasets import load_digits

    d = load_dataset("digits")
    ref = torch.as_tensor(load_digits().images / 16.0, dtype=torch.float32).reshape(1797, -1)
    got = torch.cat([d.train.x, d.valid.x, d.test.x]).reshape(1797, -1)
    assert torch.equal(torch.unique(got, dim=0), torch.unique(ref, dim=0))


def test_same_split_seed_same_split_and_seed_independent():
    a = load_dataset("digits", split_seed=3, seed=0)
    b = load_dataset("digits", split_seed=3, seed=123)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.valid.x, b.valid.x)
    assert torch.equal(a.train.y, b.train.y)
    c = load_dataset("digits", split_seed=4)
    assert not torch.equal(a.test.x, c.test.x)


def test_fractions():
    d = load_dataset("digits", valid_fraction=0.25, test_fraction=0.25)
    assert len(d.test) == round(0.25 * 1797)
    assert abs(len(d.valid) - 0.25 * 1797) <= 1
