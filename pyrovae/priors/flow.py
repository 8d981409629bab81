"""A standard normal pushed through learnable normalizing-flow layers."""

import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
from torch import nn

from ..errors import ConfigError
from ..registry import closest
from .base import PRIORS, Prior

__all__ = ["FlowPrior", "FLOW_LAYERS"]


def _coupling(z_dim, hidden):
    if z_dim < 2:
        raise ConfigError("flow prior: kind 'affine-coupling' needs z_dim >= 2; use kind='spline'")
    return T.affine_coupling(z_dim, hidden_dims=[hidden])


#: kind -> factory(z_dim, hidden) of one invertible layer (an ``nn.Module`` transform). Only
#: layers with a closed-form inverse are offered: the prior is evaluated at z drawn by the guide,
#: so log p(z) needs f⁻¹(z) (planar and radial flows have none).
FLOW_LAYERS = {
    "affine-coupling": _coupling,
    "affine-autoregressive": lambda z_dim, hidden: T.affine_autoregressive(
        z_dim, hidden_dims=[hidden]
    ),
    "spline": lambda z_dim, hidden: T.spline(z_dim, count_bins=8),
}


@PRIORS.register("flow")
class FlowPrior(Prior):
    """Normalizing-flow prior: N(0, I) through ``layers`` learnable transforms; KL by Monte Carlo.

    z = f_L ∘ ... ∘ f_1(ε), ε ~ N(0, I), so
    ``log p(z) = log N(f⁻¹(z); 0, I) + log |det ∂f⁻¹/∂z|``.
    Between coupling or autoregressive layers the coordinates are reversed, so every coordinate
    gets transformed. Layer kinds (Pyro transforms): ``affine-coupling`` (RealNVP, fast both
    ways), ``affine-autoregressive`` (MAF direction: the inverse costs z_dim passes), ``spline``
    (an element-wise monotone rational-quadratic spline).

    :param int layers: number of flow layers (default ``2``).
    :param str kind: the layer kind (default ``"affine-coupling"``).
    :param int hidden: hidden width of each layer's network (default ``32``).
    """

    def __init__(self, z_dim, layers=2, kind="affine-coupling", hidden=32):
        super().__init__(z_dim)
        if kind not in FLOW_LAYERS:
            raise ConfigError(
                f"flow prior: unknown kind '{kind}'{closest(kind, FLOW_LAYERS)}; "
                f"choose one of: {', '.join(FLOW_LAYERS)}"
            )
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ConfigError(f"flow prior: layers must be a positive integer, got {layers!r}")
        self.kind = kind
        self.flows = nn.ModuleList(FLOW_LAYERS[kind](self.z_dim, hidden) for _ in range(layers))
        self.register_buffer("loc", torch.zeros(self.z_dim))
        self.register_buffer("scale", torch.ones(self.z_dim))
        self.register_buffer("reverse", torch.arange(self.z_dim - 1, -1, -1))

    def transforms(self):
        """The layers in sampling order, with coordinate reversals between them."""
        out = []
        for i, flow in enumerate(self.flows):
            if i > 0 and self.kind != "spline":
                out.append(T.Permute(self.reverse))
            out.append(flow)
        return out

    def forward(self):
        base = dist.Normal(self.loc, self.scale).to_event(1)
        return dist.TransformedDistribution(base, self.transforms())
