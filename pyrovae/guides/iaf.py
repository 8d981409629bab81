"""A diagonal Gaussian posterior refined by inverse autoregressive flow layers (Kingma et al., 2016)."""

import pyro.distributions as dist
import pyro.distributions.transforms as T
from torch import nn

from ..errors import ConfigError
from .base import GUIDES, Posterior
from .diag_normal import DiagNormal

__all__ = ["IAF"]


@GUIDES.register("iaf")
class IAF(Posterior):
    """Diagonal Normal from the encoder followed by ``layers`` inverse autoregressive flows.

    z₀ ~ N(μ(x), diag σ(x)²), z_t = σ_t(z_{t−1}) ⊙ z_{t−1} + m_t(z_{t−1}) with (m_t, log σ_t)
    from a MADE network (Pyro's ``affine_autoregressive``), so
    log q(z_T|x) = log N(z₀; μ, σ²) − Σ_t Σ_i log σ_{t,i}(z_{t−1}).
    With ``context_dim > 0`` the encoder also emits a context vector c(x) of that size, and each
    layer's network is conditioned on it (``conditional_affine_autoregressive``); with
    ``context_dim = 0`` the layers are shared by every x (amortization is in μ and σ only).
    Sampling and the density of a drawn z are one pass each; the density of an arbitrary z needs
    the inverse (z_dim passes per layer).

    :param int layers: number of IAF layers (default ``2``).
    :param int hidden: hidden width of each layer's MADE (default ``32``).
    :param int context_dim: size of the encoder context for conditional layers (default ``0``).
    :param float min_scale: a floor on σ(x) of the base Normal (default ``1e-4``).
    """

    def __init__(self, z_dim, layers=2, hidden=32, context_dim=0, min_scale=1e-4):
        super().__init__(z_dim)
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ConfigError(f"iaf guide: layers must be a positive integer, got {layers!r}")
        if isinstance(context_dim, bool) or not isinstance(context_dim, int) or context_dim < 0:
            raise ConfigError(f"iaf guide: context_dim must be an integer >= 0, got {context_dim!r}")
        if self.z_dim < 2:
            raise ConfigError("iaf guide: needs z_dim >= 2 (an autoregressive flow in 1-D is affine)")
        self.context_dim = context_dim
        self.base = DiagNormal(z_dim, min_scale=min_scale)
        if context_dim:
            make = lambda: T.conditional_affine_autoregressive(z_dim, context_dim, hidden_dims=[hidden])
        else:
            make = lambda: T.affine_autoregressive(z_dim, hidden_dims=[hidden])
        self.flows = nn.ModuleList(make() for _ in range(layers))

    @property
    def num_features(self):
        return self.base.num_features + self.context_dim

    def forward(self, h):
        h, c = h.split([self.base.num_features, self.context_dim], dim=-1)
        flows = [f.condition(c) for f in self.flows] if self.context_dim else list(self.flows)
        return dist.TransformedDistribution(self.base(h), flows)
