"""Choosing a few balanced labels, and interleaving labelled with unlabelled batches."""

import pytest
import torch

from pyrovae.data.labels import SemiSupervisedBatcher, choose_labels
from pyrovae.errors import ConfigError, DataError

# 3 classes with 4, 5 and 6 examples, in a scrambled order
Y = torch.tensor([2, 0, 1, 2, 1, 0, 2, 2, 1, 0, 1, 2, 0, 1, 2])


def test_labels_are_balanced_and_partition_the_examples():
    labelled, unlabelled = choose_labels(Y, 9, 3, seed=0)
    assert torch.bincount(Y[labelled], minlength=3).tolist() == [3, 3, 3]
    both = torch.cat([labelled, unlabelled]).sort().values
    assert both.tolist() == list(range(len(Y)))


def test_the_choice_depends_on_the_seed_only():
    first = choose_labels(Y, 6, 3, seed=1)[0]
    assert first.tolist() == choose_labels(Y, 6, 3, seed=1)[0].tolist()
    others = {tuple(choose_labels(Y, 6, 3, seed=s)[0].tolist()) for s in range(10)}
    assert len(others) > 1


def test_every_example_of_a_class_can_be_chosen():
    """All examples of the smallest class (4 of class 0) when 4 per class are asked for."""
    labelled, _ = choose_labels(Y, 12, 3, seed=3)
    assert sorted(labelled[Y[labelled] == 0].tolist()) == (Y == 0).nonzero().flatten().tolist()


@pytest.mark.parametrize(
    "y, n, error, words",
    [
        (Y, 10, ConfigError, "multiple of 3"),
        (Y, 15, DataError, "class 0 has only 4"),
        (Y, 30, DataError, "more than the 15 examples"),
        (None, 3, DataError, "no labels"),
        (Y, 0, ConfigError, "positive integer"),
    ],
)
def test_impossible_requests_are_refused(y, n, error, words):
    with pytest.raises(error, match=words):
        choose_labels(y, n, 3)


def make_batcher(batch_size=4, labelled=(0, 1, 2), seed=0):
    x = torch.arange(15.0).unsqueeze(-1)  # example i holds the value i
    labelled = torch.tensor(labelled)
    mask = torch.ones(15, dtype=torch.bool)
    mask[labelled] = False
    return SemiSupervisedBatcher(x, Y, labelled, mask.nonzero().flatten(),
                                 batch_size=batch_size, seed=seed)


def test_an_epoch_alternates_labelled_and_unlabelled_batches_and_sees_all_unlabelled_data():
    batcher = make_batcher()
    for _ in range(2):  # two epochs
        batches = list(batcher)
        assert len(batches) == len(batcher) == 2 * 3  # 12 unlabelled in batches of 4
        labelled, unlabelled = batches[0::2], batches[1::2]
        assert all(y is None for _, y in unlabelled)
        seen = torch.cat([x for x, _ in unlabelled]).flatten().long().sort().values
        assert seen.tolist() == list(range(3, 15))  # each unlabelled example exactly once
        for x, y in labelled:  # labelled batches: the 3 labelled examples with their labels
            assert len(x) == 3
            assert sorted(x.flatten().long().tolist()) == [0, 1, 2]
            assert y.tolist() == Y[x.flatten().long()].tolist()


def test_the_small_labelled_set_is_cycled():
    batcher = make_batcher(batch_size=2, labelled=(0, 1, 2))  # 6 unlabelled steps, 2 per pass
    labelled = [x for x, y in batcher if y is not None]
    values = torch.cat(labelled).flatten().long()
    assert len(labelled) == 6 and torch.bincount(values).tolist() == [3, 3, 3]


def test_with_every_label_kept_an_epoch_is_one_pass_over_the_labelled_data():
    batcher = make_batcher(batch_size=4, labelled=tuple(range(15)))
    batches = list(batcher)
    assert len(batches) == len(batcher) == 4
    assert all(y is not None for _, y in batches)
    assert torch.cat([x for x, _ in batches]).flatten().long().sort().values.tolist() == list(
        range(15)
    )


def test_the_data_layer_chooses_the_labels_and_owns_the_batching():
    """``load_dataset(labels=N)`` keeps N balanced labels (chosen with ``split_seed``), and
    ``DataSet.batches`` interleaves labelled with unlabelled batches; without ``labels`` every
    batch carries its labels."""
    from pyrovae import load_dataset
    from pyrovae.data import Batcher

    data = load_dataset("digits", labels=50, split_seed=3)
    expected, _ = choose_labels(data.train.y, 50, 10, seed=3)
    assert torch.equal(data.labelled, expected)
    batches = data.batches(64, seed=0)
    assert isinstance(batches, SemiSupervisedBatcher)
    steps = list(batches)
    assert all(y is not None and len(y) == 50 for _, y in steps[0::2])
    assert all(y is None for _, y in steps[1::2])
    assert sum(len(x) for x, _ in steps[1::2]) == len(data.train) - 50
    plain = load_dataset("digits").batches(64, seed=0)
    assert isinstance(plain, Batcher) and all(y is not None for _, y in plain)


def test_labelled_every_puts_one_labelled_batch_before_every_n_unlabelled():
    """1 201 unlabelled images at batch 100: 13 unlabelled batches; labelled_every = 5 puts a
    labelled batch before the 1st, 6th and 11th (16 steps); with labelled_every = 13 each of
    the 100 labelled examples is seen exactly once per epoch, as in Pyro's SS-VAE."""
    import pyrovae as pv
    from pyrovae.errors import DataError

    x = torch.rand(1301, 4)
    y = torch.arange(1301) % 10
    labelled, unlabelled = torch.arange(100), torch.arange(100, 1301)
    batches = pv.data.labels.SemiSupervisedBatcher(x, y, labelled, unlabelled, batch_size=100,
                                                   labelled_every=5)
    kinds = [yb is not None for _, yb in batches]
    assert len(batches) == len(kinds) == 16
    assert [i for i, k in enumerate(kinds) if k] == [0, 6, 12]
    once = pv.data.labels.SemiSupervisedBatcher(x, y, labelled, unlabelled, batch_size=100,
                                                labelled_every=13)
    seen = torch.cat([xb for xb, yb in once if yb is not None])
    assert seen.shape[0] == 100 and torch.equal(seen.sort(0).values, x[:100].sort(0).values)
    with pytest.raises(DataError, match="labelled_every must be a positive integer"):
        pv.data.labels.SemiSupervisedBatcher(x, y, labelled, unlabelled, batch_size=100,
                                             labelled_every=0)


def paired_batcher(labelled=tuple(range(6)), labelled_batch=4, batch_size=4, **options):
    x = torch.arange(15.0).unsqueeze(-1)  # example i holds the value i
    labelled = torch.tensor(labelled)
    mask = torch.ones(15, dtype=torch.bool)
    mask[labelled] = False
    return SemiSupervisedBatcher(x, Y, labelled, mask.nonzero().flatten(), batch_size=batch_size,
                                 labelled_batch=labelled_batch, **options)


def test_paired_batches_carry_a_labelled_batch_with_every_unlabelled_one():
    """``labelled_batch = 4`` with 6 labels and 9 unlabelled examples at batch 4: 3 steps, each
    one batch whose first 4 rows are labelled examples (with their labels, ``len(y) = 4``) and
    whose other rows are unlabelled; the unlabelled rows of an epoch are the 9 unlabelled
    examples once each; the labels are cycled, a fresh shuffle every step here (4 of 6)."""
    batcher = paired_batcher()
    for _ in range(2):  # two epochs
        steps = list(batcher)
        assert len(steps) == len(batcher) == 3
        unlabelled = []
        for x, y in steps:
            values = x.flatten().long()
            assert len(y) == 4 and values[:4].lt(6).all() and values[4:].ge(6).all()
            assert len(set(values[:4].tolist())) == 4  # drawn without replacement
            assert y.tolist() == Y[values[:4]].tolist()
            unlabelled += values[4:].tolist()
        assert sorted(unlabelled) == list(range(6, 15))
    assert "4 labels paired with each" in repr(batcher)


def test_a_paired_labelled_batch_is_at_most_the_labels_kept():
    batcher = paired_batcher(labelled=(0, 1, 2), labelled_batch=100)
    assert all(len(y) == 3 and sorted(x[:3].flatten().long().tolist()) == [0, 1, 2]
               for x, y in batcher)
    with pytest.raises(DataError, match="labelled_batch must be a whole number"):
        paired_batcher(labelled_batch=-1)


def test_paired_batches_resume_exactly():
    """A batcher restored from another's state after an epoch draws the same next epoch: the
    order, the labelled draws and the dynamic binarization."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(15, 3, generator=g)
    labelled = torch.arange(6)

    def batcher():
        return SemiSupervisedBatcher(x, Y, labelled, torch.arange(6, 15), batch_size=4,
                                     labelled_batch=2, dynamic_binarize=True, seed=5)

    first = batcher()
    list(first)
    state = first.state_dict()
    expected = list(first)
    second = batcher()
    second.load_state_dict(state)
    got = list(second)
    assert len(got) == len(expected) == 3
    for (xa, ya), (xb, yb) in zip(got, expected):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not all(torch.equal(a, b) for (a, _), (b, _) in zip(list(batcher()), expected))
