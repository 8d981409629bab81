"""The standard normal prior p(z) = N(0, I)."""

import pyro.distributions as dist
import torch

from .base import PRIORS, Prior

__all__ = ["NormalPrior"]


@PRIORS.register("normal")
class NormalPrior(Prior):
    """Standard normal N(0, I); the KL to a diagonal-normal guide is analytic."""

    def __init__(self, z_dim):
        super().__init__(z_dim)
        # buffers follow the module across devices and are not trained
        self.register_buffer("loc", torch.zeros(self.z_dim))
        self.register_buffer("scale", torch.ones(self.z_dim))

    def forward(self):
        return dist.Normal(self.loc, self.scale).to_event(1)
