"""The posterior-family interface and registry.

A posterior family turns the encoder's features ``h`` (shape ``batch + (num_features,)``) into
q(z|x): a Pyro distribution with ``event_shape == (z_dim,)`` and the batch shape of ``h``. The
family says how many features it needs (:attr:`Posterior.num_features`), and the encoder is built
with that many outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..registry import Registry

if TYPE_CHECKING:
    from pyro.distributions import Distribution  # a Pyro distribution, for pyro.sample

__all__ = ["GUIDES", "Posterior"]

#: name -> posterior family; built as ``cls(z_dim=..., **options)``.
GUIDES = Registry("guide", builder_args=("z_dim",))


class Posterior(nn.Module):
    """Abstract q(z|x) given encoder features.

    :param int z_dim: the latent dimension.
    """

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = int(z_dim)

    @property
    def num_features(self) -> int:
        """How many encoder outputs this family consumes."""
        raise NotImplementedError

    def forward(self, h: torch.Tensor) -> Distribution:
        """Return q(z|x) from encoder features ``h``."""
        raise NotImplementedError
