"""The prior interface and registry.

A prior is an ``nn.Module`` whose ``forward()`` returns p(z) as a Pyro distribution with
``event_shape == (z_dim,)`` and empty batch shape; the model's ``pyro.plate`` broadcasts it over
the batch. Its learnable parameters are ordinary ``nn.Parameter`` attributes, so they train with
the networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from ..registry import Registry

if TYPE_CHECKING:
    from pyro.distributions import Distribution  # a Pyro distribution, for pyro.sample

__all__ = ["PRIORS", "Prior"]

#: name -> prior class; built as ``cls(z_dim=..., **options)`` (plus ``posterior`` and
#: ``event_shape`` for priors that ask for them in their signature, e.g. the VampPrior).
PRIORS = Registry("prior", builder_args=("z_dim", "event_shape", "posterior"))


class Prior(nn.Module):
    """Abstract p(z).

    :param int z_dim: the latent dimension.
    """

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = int(z_dim)

    def forward(self) -> Distribution:
        """Return p(z), a distribution with event shape ``(z_dim,)``."""
        raise NotImplementedError
