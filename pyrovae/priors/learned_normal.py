"""A diagonal Gaussian prior whose mean and scale are learned with the model."""

import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import PRIORS, Prior

__all__ = ["LearnedNormalPrior"]

@PRIORS.register("learned-normal")
class LearnedNormalPrior(Prior):
    """Trainable diagonal Gaussian N(m, diag(s²)), starting at N(0, I); analytic KL.

    The scale is ``softplus(raw) + min_scale`` so it stays positive.

    :param float min_scale: a floor on the scale, below 1 (default ``1e-3``).
    """

    def __init__(self, z_dim, min_scale=1e-3):
        super().__init__(z_dim)
        if not 0 <= min_scale < 1:
            raise ConfigError(f"learned-normal prior: min_scale must be in [0, 1), got {min_scale}")
        self.min_scale = float(min_scale)
        self.loc = nn.Parameter(torch.zeros(self.z_dim))
        # softplus(raw) + min_scale = 1 exactly: the prior starts as N(0, I)
        start = 1.0 - self.min_scale
        raw = start + math.log(-math.expm1(-start))  # softplus⁻¹(start)
        self.raw_scale = nn.Parameter(torch.full((self.z_dim,), raw))

    def scale(self):
        return F.softplus(self.raw_scale) + self.min_scale

    def forward(self):
        return dist.Normal(self.loc, self.scale()).to_event(1)
