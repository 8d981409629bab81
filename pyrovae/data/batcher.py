"""The training loop's in-memory batcher.

VAE data sets fit in (GPU) memory, so batching needs no ``Dataset``/``DataLoader``, worker
processes or per-example Python: per epoch the batcher draws one permutation, gathers the whole
tensor once, optionally draws one dynamic binarization of it (or, for codes, one Gaussian draw
around them), and yields contiguous slices (views) of the result. On a GPU this keeps the input
pipeline at a few kernel launches per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from ..errors import DataError
from ..registry import plural

__all__ = ["Batcher"]


class Batcher:
    """Iterate over ``(x_batch, y_batch_or_None)`` mini-batches of in-memory tensors.

    :param torch.Tensor x: examples, first axis = examples; any device.
    :param y: labels aligned with ``x``, or ``None``.
    :param int batch_size: examples per batch (the last batch may be smaller unless
        ``drop_last``).
    :param bool shuffle: draw a new order every epoch.
    :param bool drop_last: drop the last, smaller batch.
    :param bool dynamic_binarize: replace ``x`` by a fresh Bernoulli draw every epoch (Salakhutdinov
        & Murray's dynamic binarization); ``x`` must lie in [0, 1].
    :param noise_std: ``None``, or per-example standard deviations shaped like ``x``: every
        epoch each example is replaced by a fresh draw from N(x, noise_std²) (M1+M2's codes
        drawn from q(z₁|x) = N(mean, std²), :mod:`pyrovae.data.features`).
    :param int seed: seeds a generator on ``x.device`` once, so the same seed gives the same
        sequence of epochs.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None, *, batch_size: int,
                 shuffle: bool = True, drop_last: bool = False, dynamic_binarize: bool = False,
                 noise_std: torch.Tensor | None = None, seed: int = 0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = x.shape[0]
        if n == 0:
            raise DataError("cannot batch an empty data set")
        if y is not None and y.shape[0] != n:
            raise DataError(f"{plural(n, 'example')} but {plural(y.shape[0], 'label')}")
        if drop_last and batch_size > n:
            raise DataError(
                f"batch_size {batch_size} is larger than the {plural(n, 'example')} and drop_last "
                "is set: an epoch would have no batch"
            )
        if dynamic_binarize and (x.min() < 0 or x.max() > 1):
            raise DataError("dynamic binarization needs values in [0, 1]")
        if noise_std is not None and (noise_std.shape != x.shape or dynamic_binarize):
            raise DataError(
                f"noise_std must have the examples' shape {tuple(x.shape)} (got "
                f"{tuple(noise_std.shape)}) and cannot be combined with dynamic binarization"
            )
        self.x, self.y = x, y
        self.noise_std = noise_std
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.dynamic_binarize = dynamic_binarize
        self.generator = torch.Generator(device=x.device).manual_seed(seed)

    @property
    def num_examples(self) -> int:
        return self.x.shape[0]

    def __len__(self) -> int:
        """Batches per epoch."""
        n = self.num_examples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        x, y, std = self.x, self.y, self.noise_std
        if self.shuffle:
            perm = torch.randperm(self.num_examples, generator=self.generator, device=x.device)
            x = x[perm]
            if y is not None:
                y = y[perm.to(y.device)]
            if std is not None:
                std = std[perm]
        if std is not None:
            x = torch.addcmul(x, std, torch.randn(x.shape, generator=self.generator,
                                                  device=x.device, dtype=x.dtype))
        if self.dynamic_binarize and self.shuffle:
            # x is this epoch's own copy: draw in place, one training-set-sized tensor less at
            # peak (157 MB for MNIST)
            x.bernoulli_(x, generator=self.generator)
        elif self.dynamic_binarize:
            x = torch.bernoulli(x, generator=self.generator)
        b = self.batch_size
        for i in range(len(self)):
            yield x[i * b:(i + 1) * b], None if y is None else y[i * b:(i + 1) * b]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator's state: with it a resumed run draws the same epochs (order and
        dynamic binarization) as the uninterrupted one."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def __repr__(self):
        return (
            f"Batcher({self.num_examples} examples, batch_size={self.batch_size}, "
            f"{len(self)} batches, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"dynamic_binarize={self.dynamic_binarize}, noise={self.noise_std is not None})"
        )
