"""The likelihood interface and registry.

A likelihood turns the decoder's output into p(x|z). The decoder emits
``batch + (P,) + event_shape``: ``P = params_per_pixel`` numbers for every pixel (one logit for a
Bernoulli, a mean and a log-scale for a Gaussian with a predicted scale, ...). ``forward`` returns
a Pyro distribution whose ``event_shape`` is the image's shape, so ``log_prob`` sums over pixels
and leaves one log-density per example.

Each likelihood states the support of its data in :attr:`Likelihood.support` and checks a data
set against it before training (:meth:`Likelihood.check_data`), so data it cannot model is
refused with a message that names a likelihood that fits, rather than producing a NaN loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import DataError
from ..registry import Registry

if TYPE_CHECKING:
    from pyro.distributions import Distribution  # a Pyro distribution, for pyro.sample

__all__ = ["LIKELIHOODS", "Likelihood"]

#: name -> likelihood class; built as ``cls(event_shape=..., **options)``.
LIKELIHOODS = Registry("likelihood", builder_args=("event_shape",))


class Likelihood(nn.Module):
    """Abstract p(x|z).

    :param tuple event_shape: the shape of one example.
    """

    #: decoder outputs per pixel
    params_per_pixel = 1
    #: human-readable support, used in error messages
    support = "real numbers"
    #: a likelihood to suggest for data outside the support
    suggestion = "gaussian"
    #: a density on {0, 1} only: ``data.binarize = "auto"`` binarizes grey levels for it
    binary = False
    #: a value in the support: the dry run that checks a model when it is built traces one
    #: example filled with it (:func:`pyrovae.models.guards.dry_run`)
    example_value = 0.0

    def __init__(self, event_shape: Sequence[int]) -> None:
        super().__init__()
        self.event_shape = tuple(event_shape)

    def forward(self, params: torch.Tensor) -> Distribution:
        """Return p(x|z) given decoder outputs of shape ``batch + (P,) + event_shape``."""
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z], used for reconstructions and sample grids."""
        return self(params).mean

    def in_support(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean tensor: which entries of ``x`` lie in the support."""
        return torch.isfinite(x)

    def check_data(self, x: torch.Tensor, where: str = "the data") -> None:
        """Raise :class:`DataError` unless every value of ``x`` lies in the support."""
        bad = ~self.in_support(x)
        if bad.any():
            values = x[bad]
            raise DataError(
                f"{int(bad.sum())} values of {where} lie outside the support of the "
                f"'{self.registry_name}' likelihood ({self.support}), e.g. {values[0].item():g} "
                f"(range of the data: {x.min().item():g} to {x.max().item():g}); "
                f"rescale the data or use model.likelihood = \"{self.suggestion}\""
            )

    @property
    def registry_name(self) -> str:
        return getattr(type(self), "name", type(self).__name__)

    def split_params(self, params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Split ``batch + (P,) + event_shape`` into the P parameter tensors."""
        return params.unbind(-len(self.event_shape) - 1)
