"""Diagonal Gaussian posterior: the classic VAE encoder head."""

import pyro.distributions as dist
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .base import GUIDES, Posterior

__all__ = ["DiagNormal"]


@GUIDES.register("diag-normal")
class DiagNormal(Posterior):
    """Diagonal Normal q(z|x) = N(μ(x), diag σ(x)²), the encoder giving μ and a raw scale r.

    ``scale = "softplus"`` (the default): σ = softplus(r) + min_scale. ``scale = "exp"``: r is
    log σ², σ = exp(r / 2) + min_scale, the parameterization of Kingma & Welling's and pythae's
    encoders (which output a log-variance); the two families are the same, their gradients
    and initial σ (softplus(0) ≈ 0.69 against exp(0) = 1) are not.

    :param float min_scale: a floor on σ that keeps log σ finite (default ``1e-4``).
    :param str scale: ``"softplus"`` or ``"exp"`` (default ``"softplus"``).
    """

    SCALES = ("softplus", "exp")

    def __init__(self, z_dim, min_scale=1e-4, scale="softplus"):
        super().__init__(z_dim)
        if scale not in self.SCALES:
            raise ConfigError(f"guide scale must be one of {', '.join(self.SCALES)}, got "
                              f"{scale!r}")
        self.min_scale = float(min_scale)
        self.scale = scale

    @property
    def num_features(self):
        return 2 * self.z_dim

    def loc_scale(self, h):
        """(μ, σ) from encoder features: the first half is μ, the second a raw scale."""
        loc, raw = h.split(self.z_dim, dim=-1)
        sigma = torch.exp(0.5 * raw) if self.scale == "exp" else F.softplus(raw)
        return loc, sigma + self.min_scale

    def forward(self, h):
        loc, scale = self.loc_scale(h)
        return dist.Normal(loc, scale).to_event(1)
