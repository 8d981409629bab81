"""Diagonal Gaussian posterior: the classic VAE encoder head."""

import pyro.distributions as dist
import torch.nn.functional as F

from .base import GUIDES, Posterior

__all__ = ["DiagNormal"]


@GUIDES.register("diag-normal")
class DiagNormal(Posterior):
    """Diagonal Normal q(z|x) = N(μ(x), diag σ(x)²), σ = softplus(raw) + min_scale.

    :param float min_scale: a floor on σ that keeps log σ finite (default ``1e-4``).
    """

    def __init__(self, z_dim, min_scale=1e-4):
        super().__init__(z_dim)
        self.min_scale = float(min_scale)

    @property
    def num_features(self):
        return 2 * self.z_dim

    def loc_scale(self, h):
        """(μ, σ) from encoder features: the first half is μ, the second a raw scale."""
        loc, raw = h.split(self.z_dim, dim=-1)
        return loc, F.softplus(raw) + self.min_scale

    def forward(self, h):
        loc, scale = self.loc_scale(h)
        return dist.Normal(loc, scale).to_event(1)
