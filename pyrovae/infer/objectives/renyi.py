"""``renyi``: the Rényi α-divergence bound (Li & Turner, 2016), trainable by a torch optimizer.

With K samples z_k ~ q(z|x) and log weights log w_k = log p(x, z_k) − log q(z_k|x), the bound
per example is

    L_α(x) = 1/(1−α) · log (1/K) Σ_k w_k^(1−α),

a lower bound on log p(x) for α ≥ 0; α = 0 is the importance-weighted bound (IWAE, Burda et al.
2016) and α → 1 the ELBO. Pyro 1.9's :class:`pyro.infer.RenyiELBO` has ``loss`` and
``loss_and_grads`` but no ``differentiable_loss`` (and ``loss_and_grads`` only back-propagates
into ``pyro.param`` sites), so :class:`RenyiELBO` below adds one: it reuses Pyro's traces (the
vectorized particle plate, the per-example sums over the model's and guide's sites, the
``poutine.scale`` weights) and returns −Σ_n L_α(x_n) as a torch scalar. For a reparameterized
guide, autograd of that scalar is exactly Pyro's gradient estimator:
∇L_α = Σ_k softmax((1−α) log w)_k ∇ log w_k.
"""

import math

import pyro.infer
import torch
from pyro.distributions.util import is_identically_zero
from pyro.infer.util import get_dependent_plate_dims, torch_sum

from ...errors import ConfigError
from .base import OBJECTIVES, check_particles

__all__ = ["RenyiELBO", "check_alpha", "renyi"]


def check_alpha(alpha):
    """α must be a number other than 1 (α = 1 is the ELBO: use ``trace``)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ConfigError(f"alpha must be a finite number, got {alpha!r}")
    if alpha == 1:
        raise ConfigError("alpha = 1 is the ELBO; use the 'trace' objective instead")
    return float(alpha)


class RenyiELBO(pyro.infer.RenyiELBO):
    """Pyro's RenyiELBO with a ``differentiable_loss`` (see the module docstring)."""

    def log_weights(self, model, guide, *args, **kwargs):
        """log w_k(x_n) = log p(x_n, z_k) − log q(z_k|x_n), shape ``(K,) + data plates``."""
        particles = []
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            sum_dims = get_dependent_plate_dims(model_trace.nodes.values())
            log_w = 0.0
            for site in model_trace.nodes.values():
                if site["type"] == "sample":
                    log_w = log_w + torch_sum(site["log_prob"], sum_dims)
            for name, site in guide_trace.nodes.items():
                if site["type"] == "sample":
                    if not is_identically_zero(site["score_parts"].score_function):
                        raise ConfigError(
                            f"the {type(self).__name__} objective needs a reparameterized "
                            f"guide, but site '{name}' is not; use the 'trace' objective"
                        )
                    log_w = log_w - torch_sum(site["log_prob"], sum_dims)
            particles.append(log_w)
        if self.vectorize_particles and self.num_particles > 1:
            return particles[0]
        return torch.stack(particles)

    def differentiable_loss(self, model, guide, *args, **kwargs):
        """−Σ_n L_α(x_n), differentiable with respect to every parameter the programs use."""
        log_w = (1.0 - self.alpha) * self.log_weights(model, guide, *args, **kwargs)
        bound = (torch.logsumexp(log_w, dim=0) - math.log(self.num_particles)) / (1.0 - self.alpha)
        return -bound.sum()


@OBJECTIVES.register("renyi")
def renyi(alpha=0.5, num_particles=5, max_plate_nesting=1):
    """Rényi α-divergence bound with K particles (α = 0: IWAE; α → 1: ELBO).

    :param float alpha: the order α, any number but 1 (default ``0.5``); α ≥ 0 gives a bound.
    :param int num_particles: samples K of z per example, vectorized (default 5).
    """
    return RenyiELBO(
        alpha=check_alpha(alpha),
        num_particles=check_particles(num_particles),
        vectorize_particles=True,
        max_plate_nesting=max_plate_nesting,
    )
