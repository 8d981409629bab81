"""A learnable mixture of K diagonal Gaussians as the prior."""

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import PRIORS, Prior

__all__ = ["MixturePrior"]

_SOFTPLUS_ONE = 0.5413248546129181  # softplus^-1(1): every component starts with unit scale


@PRIORS.register("mixture")
class MixturePrior(Prior):
    """Learnable mixture of K diagonal Gaussians Σ_k π_k N(m_k, diag s_k²); KL by Monte Carlo.

    log p(z) = logsumexp_k [log π_k + log N(z; m_k, diag s_k²)] with π = softmax(logits),
    s = softplus(raw) + ``min_scale``. The means start as independent N(0, I) draws so the
    components differ (identical components would receive identical gradients forever).

    :param int components: K, the number of components (default ``10``).
    :param float min_scale: a floor on the component scales (default ``1e-3``).
    """

    def __init__(self, z_dim, components=10, min_scale=1e-3):
        super().__init__(z_dim)
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ConfigError(f"mixture prior: components must be a positive integer, got {components!r}")
        self.components = components
        self.min_scale = float(min_scale)
        self.logits = nn.Parameter(torch.zeros(components))
        self.locs = nn.Parameter(torch.randn(components, self.z_dim))
        self.raw_scales = nn.Parameter(torch.full((components, self.z_dim), _SOFTPLUS_ONE))

    def scales(self):
        return F.softplus(self.raw_scales) + self.min_scale

    def forward(self):
        return dist.MixtureSameFamily(
            dist.Categorical(logits=self.logits),
            dist.Normal(self.locs, self.scales()).to_event(1),
        )
