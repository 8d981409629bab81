"""A diagonal Gaussian prior whose mean and scale are learned with the model."""

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from .base import PRIORS, Prior

__all__ = ["LearnedNormalPrior"]

_SOFTPLUS_ONE = 0.5413248546129181  # softplus^-1(1): the prior starts as N(0, I)


@PRIORS.register("learned-normal")
class LearnedNormalPrior(Prior):
    """Trainable diagonal Gaussian N(m, diag(s²)), starting at N(0, I); analytic KL.

    The scale is ``softplus(raw) + min_scale`` so it stays positive.

    :param float min_scale: a floor on the scale (default ``1e-3``).
    """

    def __init__(self, z_dim, min_scale=1e-3):
        super().__init__(z_dim)
        self.min_scale = float(min_scale)
        self.loc = nn.Parameter(torch.zeros(self.z_dim))
        self.raw_scale = nn.Parameter(torch.full((self.z_dim,), _SOFTPLUS_ONE))

    def scale(self):
        return F.softplus(self.raw_scale) + self.min_scale

    def forward(self):
        return dist.Normal(self.loc, self.scale()).to_event(1)
