import pytest
import torch

import pyrovae.data as data
from pyrovae.data import DATASETS, DataSet, Split, load_dataset
from pyrovae.data.base import RawData
from pyrovae.errors import ConfigError, DataError


def test_public_api():
    assert data.__all__ == sorted(data.__all__)
    assert data.__all__ == ["Batcher", "DATASETS", "DataSet", "Split", "binarize", "load_dataset"]
    assert set(DATASETS.names()) >= {"digits", "mnist", "fashion-mnist", "binarized-mnist"}
    for name, line in DATASETS.describe().items():
        assert line and "\n" not in line, name
        assert DATASETS.options(name) == {}  # data_dir is a builder arg, not an option


def test_unknown_name():
    with pytest.raises(ConfigError, match="did you mean 'mnist'"):
        load_dataset("mnits")


def test_split_and_to():
    d = load_dataset("digits")
    assert d.split("valid") is d.valid
    with pytest.raises(DataError, match="did you mean 'test'.*train, valid, test"):
        d.split("tset")
    moved = d.to("cpu")
    assert isinstance(moved, DataSet) and isinstance(moved.train, Split)
    assert torch.equal(moved.test.x, d.test.x) and moved.event_shape == d.event_shape
    assert len(d.train) == d.train.x.shape[0]
    assert "digits" in repr(d)


@pytest.mark.parametrize("kw", [{"valid_fraction": 0}, {"test_fraction": 1.2},
                                {"valid_fraction": 0.5, "test_fraction": 0.5}])
def test_bad_fractions(kw):
    with pytest.raises(ConfigError, match="fraction"):
        load_dataset("digits", **kw)


def test_options_passed_and_checked(monkeypatch):
    monkeypatch.setattr(DATASETS, "_entries", dict(DATASETS._entries))  # undone after the test
    seen = {}

    @DATASETS.register("_test-source")
    def source(data_dir=None, n=10, scale=1.0):
        """A test source."""
        seen.update(data_dir=data_dir, n=n)
        return RawData(x_train=torch.rand(n, 3) * scale, y_train=torch.arange(n) % 2)

    d = load_dataset("_test-source", options={"n": 40}, data_dir="~/x")
    assert seen["n"] == 40 and "~" not in seen["data_dir"]
    assert len(d.train) + len(d.valid) + len(d.test) == 40 and d.num_classes == 2
    with pytest.raises(ConfigError, match="did you mean 'scale'"):
        load_dataset("_test-source", options={"scal": 2})
    with pytest.raises(DataError, match=r"\d+ NaN/inf values in train of _test-source"):
        load_dataset("_test-source", options={"n": 40, "scale": float("nan")})
