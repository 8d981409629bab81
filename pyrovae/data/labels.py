"""Semi-supervised data: keep a few labels, and interleave labelled with unlabelled batches.

:func:`choose_labels` keeps ``N`` labels balanced across the ``K`` classes (``N / K`` per class,
drawn by a seed), the published protocol of Kingma et al. (2014); the rest of the training split
is treated as unlabelled. :class:`SemiSupervisedBatcher` yields one labelled batch before every
unlabelled batch, cycling (and reshuffling) the small labelled set, so that one epoch is one pass
over all the unlabelled data; or, with ``labelled_batch = L``, hands every step a *paired*
batch, L labelled examples together with the unlabelled batch, as Maaløe et al.'s (2016) ADGM
code does. Both are vectorized: no per-example Python.
"""

import math

import torch

from ..errors import ConfigError, DataError
from ..registry import plural
from .batcher import Batcher

__all__ = ["SemiSupervisedBatcher", "choose_labels"]


def choose_labels(y, num_labels, num_classes, seed=0):
    """Choose ``num_labels`` examples, ``num_labels / num_classes`` of each class, at random.

    Within each class the kept examples are the first ones of a random permutation drawn from
    ``seed`` (one ``randperm``, one stable ``argsort`` by class: no loop over examples).

    :param torch.Tensor y: int64 labels of the training split, shape ``(N,)``, or ``None``.
    :param int num_labels: how many labels to keep; a positive multiple of ``num_classes``.
    :param int num_classes: ``K``.
    :param int seed: seeds the choice (default 0).
    :returns: ``(labelled, unlabelled)``: sorted int64 index tensors (on CPU) that partition
        ``range(N)``.
    """
    if y is None:
        raise DataError(
            "semi-supervised training needs a labelled data set, but the training split has no "
            "labels; use a data set with labels (e.g. mnist or digits)"
        )
    n = int(y.shape[0])
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
        raise ConfigError(f"data.labels must be a positive integer, got {num_labels!r}")
    if num_labels > n:
        raise DataError(
            f"data.labels = {num_labels} is more than the {plural(n, 'example')} of the training "
            f"split; choose at most {n - n % num_classes}"
        )
    if num_labels % num_classes:
        raise ConfigError(
            f"data.labels = {num_labels} cannot be balanced over {num_classes} classes; "
            f"choose a multiple of {num_classes}, e.g. {max(1, num_labels // num_classes) * num_classes}"
        )
    per_class = num_labels // num_classes
    y = y.detach().cpu()
    counts = torch.bincount(y, minlength=num_classes)
    if len(counts) > num_classes:
        raise DataError(f"labels go up to {len(counts) - 1} but there are {num_classes} classes")
    smallest = int(counts.argmin())
    if counts[smallest] < per_class:
        raise DataError(
            f"data.labels = {num_labels} needs {plural(per_class, 'example')} of each class, but "
            f"class {smallest} has only {int(counts[smallest])} in the training split; choose at "
            f"most {plural(int(counts[smallest]) * num_classes, 'label')}"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    order = torch.argsort(y[perm], stable=True)  # grouped by class, random within each class
    index, label = perm[order], y[perm][order]
    first = torch.cumsum(counts, 0) - counts  # position of each class's first example
    rank = torch.arange(n) - first[label]  # rank of an example within its class
    keep = rank < per_class
    return index[keep].sort().values, index[~keep].sort().values


class SemiSupervisedBatcher:
    """Interleave labelled ``(x, y)`` batches with unlabelled ``(x, None)`` batches.

    Each epoch is one pass over the unlabelled examples in ``batch_size`` batches (the last one may
    be smaller); before the first of every ``labelled_every`` of them comes one labelled batch of
    ``min(batch_size, L)`` examples drawn from the ``L`` labelled ones, which are cycled and
    reshuffled whenever they run out. So an epoch has ``U_b + ceil(U_b / labelled_every)``
    steps, ``U_b = ceil(U / batch_size)``: with the default 1, labelled and unlabelled batches
    alternate (each labelled example is seen about U / L times per epoch); Pyro's SS-VAE
    example shows each labelled example once per epoch (``labelled_every = U_b · batch / L``,
    e.g. 500 for MNIST's 50 000 images with 100 labels at batch 100). With no unlabelled example (every label kept)
    an epoch is one pass over the labelled examples. Both streams are
    :class:`~pyrovae.data.Batcher` s (with their dynamic binarization).

    Paired batches (``labelled_batch = L`` > 0): every step is one batch ``(x, y)`` whose first
    ``len(y)`` rows are ``min(L, number of labels)`` labelled examples, with their labels ``y``,
    and whose other rows are the step's unlabelled batch, so ``y`` has fewer rows than ``x``
    (a model kind that takes such batches splits them by shape, e.g.
    :meth:`pyrovae.models.ADGM.loss`; the split reads no value, and a data-parallel cut of the
    rows keeps it: the labels of a shard's rows are ``y[start:stop]``). An epoch is still one
    pass over the unlabelled examples, in ``ceil(U / batch_size)`` steps; the labelled examples
    are cycled and reshuffled as above, every pass in full batches of the same size (a pass
    leaves out the ``L_total mod L`` examples its order puts last). ``labelled_every`` is then
    unused.

    :param torch.Tensor x: the training examples.
    :param torch.Tensor y: their labels.
    :param torch.Tensor labelled: indices of the examples whose labels are kept.
    :param torch.Tensor unlabelled: indices of the others (may be empty).
    :param int batch_size: examples per batch.
    :param bool dynamic_binarize: re-draw a binarization of ``x`` every pass.
    :param noise_std: ``None`` or per-example standard deviations aligned with ``x``: every pass
        draws each example from N(x, noise_std²) (:class:`~pyrovae.data.Batcher`).
    :param int seed: seeds both streams (the unlabelled one with ``seed + 1``).
    :param int labelled_every: unlabelled batches per labelled one (default 1).
    :param int labelled_batch: labelled examples paired with every unlabelled batch (default
        0: none, the batches alternate as ``labelled_every`` says).
    """

    def __init__(self, x, y, labelled, unlabelled, *, batch_size, dynamic_binarize=False,
                 noise_std=None, seed=0, labelled_every=1, labelled_batch=0):
        if isinstance(labelled_every, bool) or not isinstance(labelled_every, int) \
                or labelled_every < 1:
            raise DataError(f"data.labelled_every must be a positive integer, got "
                            f"{labelled_every!r}")
        if isinstance(labelled_batch, bool) or not isinstance(labelled_batch, int) \
                or labelled_batch < 0:
            raise DataError(f"data.labelled_batch must be a whole number ≥ 0, got "
                            f"{labelled_batch!r}")
        self.labelled_every = labelled_every
        if len(labelled) == 0:
            raise DataError("semi-supervised training needs at least one labelled example")
        self.paired = labelled_batch > 0 and len(unlabelled) > 0
        labelled = labelled.to(x.device)
        unlabelled = unlabelled.to(x.device)
        self.labelled = Batcher(
            x[labelled],
            y[labelled.to(y.device)],
            batch_size=min(labelled_batch if self.paired else batch_size, len(labelled)),
            drop_last=self.paired,  # every step the same number of labels
            dynamic_binarize=dynamic_binarize,
            noise_std=None if noise_std is None else noise_std[labelled],
            seed=seed,
        )
        self.unlabelled = None
        if len(unlabelled):
            self.unlabelled = Batcher(
                x[unlabelled], None, batch_size=batch_size, dynamic_binarize=dynamic_binarize,
                noise_std=None if noise_std is None else noise_std[unlabelled], seed=seed + 1,
            )

    def __len__(self):
        """Steps (batches) per epoch."""
        if self.unlabelled is None:
            return len(self.labelled)
        if self.paired:
            return len(self.unlabelled)
        return len(self.unlabelled) + math.ceil(len(self.unlabelled) / self.labelled_every)

    def __iter__(self):
        if self.unlabelled is None:
            yield from self.labelled
            return
        labelled = iter(self.labelled)
        for index, (x, _) in enumerate(self.unlabelled):
            if self.paired or index % self.labelled_every == 0:
                batch = next(labelled, None)
                if batch is None:  # the labelled set ran out: start another (reshuffled) pass
                    labelled = iter(self.labelled)
                    batch = next(labelled)
                if self.paired:
                    yield torch.cat([batch[0], x]), batch[1]
                    continue
                yield batch
            yield x, None

    def state_dict(self):
        """Both streams' generator states (see :meth:`~pyrovae.data.Batcher.state_dict`)."""
        state = {"labelled": self.labelled.state_dict()}
        if self.unlabelled is not None:
            state["unlabelled"] = self.unlabelled.state_dict()
        return state

    def load_state_dict(self, state):
        self.labelled.load_state_dict(state["labelled"])
        if self.unlabelled is not None:
            self.unlabelled.load_state_dict(state["unlabelled"])

    def __repr__(self):
        unlabelled = 0 if self.unlabelled is None else self.unlabelled.num_examples
        paired = (f", {plural(self.labelled.batch_size, 'label')} paired with each"
                  if self.paired else "")
        return (
            f"SemiSupervisedBatcher({self.labelled.num_examples} labelled, {unlabelled} "
            f"unlabelled, {plural(len(self), 'step')} per epoch{paired})"
        )
