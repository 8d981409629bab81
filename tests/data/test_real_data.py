"""Loads the real MNIST and binarized MNIST from the shared data folder (skipped without it)."""

from pathlib import Path

import pytest
import torch

from pyrovae.data import load_dataset

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not (SHARED / "MNIST").is_dir() or not (SHARED / "binarized_mnist").is_dir(),
    reason=f"no real data at {SHARED}",
)


def _listing():
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in SHARED.rglob("*"))


def test_real_mnist_and_binarized_mnist():
    before = _listing()
    m = load_dataset("mnist", data_dir=SHARED)
    assert (len(m.train), len(m.valid), len(m.test)) == (50_000, 10_000, 10_000)
    assert m.event_shape == (1, 28, 28) and m.num_classes == 10
    assert m.train.x.min() == 0 and m.train.x.max() == 1
    assert torch.equal((m.test.x * 255).round().unique(), torch.arange(256.0))
    assert m.train.y.bincount().min() > 4000

    b = load_dataset("binarized-mnist", data_dir=SHARED)
    assert (len(b.train), len(b.valid), len(b.test)) == (50_000, 10_000, 10_000)
    assert b.event_shape == (1, 28, 28) and b.num_classes is None
    for s in ("train", "valid", "test"):
        assert b.split(s).x.unique().tolist() == [0.0, 1.0]
    assert 0.1 < b.train.x.mean() < 0.2
    assert _listing() == before  # nothing written into the shared folder
