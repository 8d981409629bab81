import numpy as np
import pytest
import torch

from pyrovae.data import Batcher, binarize, load_dataset
from pyrovae.errors import ConfigError, DataError


def test_binarize_helper():
    x = torch.full((1000,), 0.3)
    g = torch.Generator().manual_seed(1)
    b = binarize(x, g)
    assert b.dtype == x.dtype and b.shape == x.shape
    assert set(b.unique().tolist()) == {0.0, 1.0}
    assert 0.2 < b.mean() < 0.4
    assert torch.equal(b, binarize(x, torch.Generator().manual_seed(1)))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        binarize(x + 1)


def test_static():
    a = load_dataset("digits", binarize="static", seed=1)
    b = load_dataset("digits", binarize="static", seed=1)
    c = load_dataset("digits", binarize="static", seed=2)
    grey = load_dataset("digits")
    assert a.binarize == "static"
    for s in ("train", "valid", "test"):
        assert set(a.split(s).x.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(a.split(s).x, b.split(s).x)
        assert torch.equal(a.split(s).y, grey.split(s).y)  # same split, labels untouched
    assert not torch.equal(a.train.x, c.train.x)
    # a binarized pixel is 1 where grey is 1 and 0 where grey is 0
    assert torch.all(a.train.x[grey.train.x == 1] == 1)
    assert torch.all(a.train.x[grey.train.x == 0] == 0)


def test_dynamic():
    grey = load_dataset("digits")
    d = load_dataset("digits", binarize="dynamic", seed=1)
    e = load_dataset("digits", binarize="dynamic", seed=2)
    assert d.binarize == "dynamic"
    assert torch.equal(d.train.x, grey.train.x)  # train stays grey
    for s in ("valid", "test"):
        assert set(d.split(s).x.unique().tolist()) == {0.0, 1.0}
        assert torch.equal(d.split(s).x, e.split(s).x)  # evaluation data independent of seed
    batcher = Batcher(d.train.x, d.train.y, batch_size=len(d.train), shuffle=False,
                      dynamic_binarize=True, seed=0)
    (x1, y1), = list(batcher)
    (x2, y2), = list(batcher)
    assert set(x1.unique().tolist()) == {0.0, 1.0} == set(x2.unique().tolist())
    assert not torch.equal(x1, x2)  # re-drawn every epoch
    assert torch.equal(y1, d.train.y)
    assert torch.all(x1[grey.train.x == 0] == 0)


def test_outside_unit_interval(tmp_path):
    np.save(tmp_path / "x.npy", np.full((50, 3), 2.0))
    for mode in ("static", "dynamic"):
        with pytest.raises(DataError, match=r"needs values in \[0, 1\]"):
            load_dataset(str(tmp_path / "x.npy"), binarize=mode)
    assert load_dataset(str(tmp_path / "x.npy")).train.x.eq(2).all()
    with pytest.raises(DataError, match="dynamic binarization"):
        Batcher(torch.full((4, 2), 2.0), batch_size=2, dynamic_binarize=True)


def test_unknown_mode():
    with pytest.raises(ConfigError, match=r"^pyrovae\.load_dataset: binarize must be one of "
                       r"'none', 'static', 'dynamic', got 'statc' \(did you mean 'static'\?\)$"):
        load_dataset("digits", binarize="statc")
