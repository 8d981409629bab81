"""The VampPrior (Tomczak & Welling, 2018): the aggregate posterior of learned pseudo-inputs."""

import pyro.distributions as dist
import torch
from torch import nn

from ..errors import ConfigError
from .base import PRIORS, Prior

__all__ = ["VampPrior"]


@PRIORS.register("vamp")
class VampPrior(Prior):
    """VampPrior p(z) = (1/K) Σ_k q(z | u_k) over K learned pseudo-inputs u_k; KL by Monte Carlo.

    The prior re-uses the guide's own encoder and posterior family (``posterior`` is the model's
    ``q``, passed when the model is built), so it adds only the pseudo-inputs as parameters: the
    encoder stays registered once, in the model, and gets one gradient per step through both the
    guide and the prior. The pseudo-inputs start as uniform noise in [0, ``init_scale``].

    :param int components: K, the number of pseudo-inputs (default ``50``).
    :param float init_scale: the pseudo-inputs start uniform in [0, init_scale] (default ``1.0``).
    """

    def __init__(self, z_dim, event_shape, posterior, components=50, init_scale=1.0):
        super().__init__(z_dim)
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ConfigError(f"vamp prior: components must be a positive integer, got {components!r}")
        if posterior is None:
            raise ConfigError("vamp prior: needs the model's posterior q(z|x); build it in a VAE")
        self.components = components
        # a plain attribute (a bound method of the model), not a submodule: the encoder's
        # parameters are registered by the model only
        self._posterior = posterior
        self.pseudo_inputs = nn.Parameter(init_scale * torch.rand(components, *event_shape))

    def forward(self):
        q = self._posterior(self.pseudo_inputs)  # batch (K,), event (z_dim,)
        weights = torch.zeros(self.components, device=self.pseudo_inputs.device)
        return dist.MixtureSameFamily(dist.Categorical(logits=weights), q)
