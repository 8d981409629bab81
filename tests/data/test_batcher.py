import pytest
import torch

from pyrovae.data import Batcher
from pyrovae.errors import DataError


def _data(n=23):
    idx = torch.arange(n)
    x = idx.float()[:, None, None].expand(n, 2, 3).clone()  # row i holds i everywhere
    return x, idx


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_example_once_per_epoch(shuffle):
    x, y = _data()
    b = Batcher(x, y, batch_size=5, shuffle=shuffle)
    assert len(b) == 5
    for _ in range(3):
        batches = list(b)
        assert [len(bx) for bx, _ in batches] == [5, 5, 5, 5, 3]
        ids = torch.cat([by for _, by in batches])
        assert sorted(ids.tolist()) == list(range(23))
        xs = torch.cat([bx for bx, _ in batches])
        assert torch.equal(xs, x[ids])  # labels stay aligned with images
    if not shuffle:
        assert ids.tolist() == list(range(23))


def test_epochs_differ_when_shuffled():
    x, y = _data(100)
    b = Batcher(x, y, batch_size=10)
    e1 = torch.cat([by for _, by in b])
    e2 = torch.cat([by for _, by in b])
    assert not torch.equal(e1, e2)


def test_drop_last():
    x, y = _data()
    b = Batcher(x, y, batch_size=5, drop_last=True)
    assert len(b) == 4
    batches = list(b)
    assert len(batches) == 4 and all(len(bx) == 5 for bx, _ in batches)
    assert len(set(torch.cat([by for _, by in batches]).tolist())) == 20
    assert len(Batcher(x, batch_size=23, drop_last=True)) == 1
    with pytest.raises(DataError, match="larger than"):
        Batcher(x, batch_size=24, drop_last=True)
    assert len(Batcher(x, batch_size=24)) == 1


def test_same_seed_same_batches():
    x, y = _data(50)
    runs = []
    for seed in (7, 7, 8):
        b = Batcher(x, y, batch_size=8, seed=seed, dynamic_binarize=False)
        runs.append([torch.cat([by for _, by in b]) for _ in range(2)])
    assert all(torch.equal(p, q) for p, q in zip(runs[0], runs[1]))
    assert not torch.equal(runs[0][0], runs[2][0])
    p = torch.rand(50, 4)
    d1 = [bx for bx, _ in Batcher(p, batch_size=50, dynamic_binarize=True, seed=3)]
    d2 = [bx for bx, _ in Batcher(p, batch_size=50, dynamic_binarize=True, seed=3)]
    assert torch.equal(d1[0], d2[0])


def test_no_labels():
    x, _ = _data()
    for bx, by in Batcher(x, batch_size=4):
        assert by is None


def test_batches_are_views_of_one_gathered_tensor():
    x, y = _data()
    batches = list(Batcher(x, y, batch_size=5))
    base = batches[0][0]._base
    assert base is not None and base.shape == x.shape
    row = x[0].numel() * x.element_size()
    for i, (bx, by) in enumerate(batches):
        assert bx._base is base and by._base is batches[0][1]._base
        assert bx.data_ptr() == base.data_ptr() + i * 5 * row
        assert bx.is_contiguous()


def test_noise_draws_every_example_from_its_gaussian_each_epoch():
    """``noise_std``: each epoch, example i is x_i + std_i ε with fresh ε ~ N(0, 1), aligned
    with its label through the shuffle. Over 400 epochs the per-example mean and standard
    deviation of the draws must match x_i and std_i: the bounds are 5 standard errors (of a
    mean: std/√400; of a standard deviation: about std/√800), so a wrong scale (e.g. std² for
    std) or a misaligned std fails them."""
    n, epochs = 30, 400
    x = torch.linspace(-3, 3, n)[:, None].expand(n, 2).clone()
    std = torch.linspace(0.2, 2.0, n)[:, None].expand(n, 2).clone()
    y = torch.arange(n)
    b = Batcher(x, y, batch_size=7, noise_std=std, seed=5)
    draws = torch.zeros(epochs, n, 2)
    for e in range(epochs):
        for bx, by in b:
            draws[e, by] = bx
    assert not torch.equal(draws[0], draws[1])  # redrawn every epoch
    assert ((draws.mean(0) - x).abs() < 5 * std / epochs**0.5).all()
    assert ((draws.std(0) - std).abs() < 5 * std / (2 * epochs) ** 0.5).all()
    again = Batcher(x, y, batch_size=7, noise_std=std, seed=5)
    first = torch.zeros(n, 2)
    for bx, by in again:
        first[by] = bx
    assert torch.equal(first, draws[0])  # the same seed draws the same codes
    assert torch.equal(x, torch.linspace(-3, 3, n)[:, None].expand(n, 2))  # x is not touched
    with pytest.raises(DataError, match="noise_std must have the examples' shape"):
        Batcher(x, batch_size=4, noise_std=std[:, :1])


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", True])
def test_bad_batch_size(bad):
    with pytest.raises(DataError, match="batch_size"):
        Batcher(torch.zeros(4, 2), batch_size=bad)


def test_bad_inputs():
    with pytest.raises(DataError, match="4 examples but 3 labels"):
        Batcher(torch.zeros(4, 2), torch.zeros(3), batch_size=2)
    with pytest.raises(DataError, match="empty"):
        Batcher(torch.zeros(0, 2), batch_size=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda():
    x, y = _data()
    b = Batcher(x.cuda(), y.cuda(), batch_size=5, dynamic_binarize=False)
    bx, by = next(iter(b))
    assert bx.is_cuda and by.is_cuda and torch.equal(bx.cpu(), x[by.cpu()])
    p = torch.rand(23, 4, device="cuda")
    bx, _ = next(iter(Batcher(p, batch_size=5, dynamic_binarize=True)))
    assert bx.is_cuda and set(bx.unique().tolist()) <= {0.0, 1.0}
