"""``meanfield``: Pyro's TraceMeanField_ELBO, the ELBO with a closed-form KL, without host
synchronization."""

import torch
from pyro.distributions.util import is_identically_zero, scale_and_mask
from pyro.infer import TraceMeanField_ELBO
from torch.distributions import kl_divergence

from ...errors import ConfigError
from ..sites import mean_field_sites
from .base import OBJECTIVES, SyncFreeLoss, trace_family

__all__ = ["MeanFieldELBO", "meanfield"]


class MeanFieldELBO(SyncFreeLoss, TraceMeanField_ELBO):
    """Pyro's ``TraceMeanField_ELBO``: per particle,

        ELBO = Σ_observed log p(x|·) − Σ_latent KL(q_site || p_site),

    each KL in closed form where torch registers one and the site qualifies (its model parents
    are drawn before it by the guide, :func:`~pyrovae.infer.sites.mean_field_sites`; Pyro
    only warns when the orders differ), scaled and masked like the site, e.g. by β; else
    log p − log q at the sampled value; auxiliary guide sites add −log q. Every guide site
    must be reparameterized. ``differentiable_loss`` never reads a tensor back
    (:class:`~.base.SyncFreeLoss`)."""

    def _particle_terms(self, model_trace, guide_trace):
        elbo = 0.0
        qualified = mean_field_sites(model_trace, guide_trace)
        for name, model_site in model_trace.nodes.items():
            if model_site["type"] != "sample":
                continue
            if model_site["is_observed"]:
                elbo = elbo + model_site["log_prob_sum"]
                continue
            guide_site = guide_trace.nodes[name]
            _check_reparameterized(guide_site)
            try:
                if name not in qualified:
                    raise NotImplementedError  # a closed form would be biased here
                kl = kl_divergence(guide_site["fn"], model_site["fn"])
            except NotImplementedError:
                entropy = guide_site["score_parts"].entropy_term
                elbo = elbo + model_site["log_prob_sum"] - entropy.sum()
                continue
            kl = scale_and_mask(kl, scale=guide_site["scale"], mask=guide_site["mask"])
            if torch.is_tensor(kl):
                elbo = elbo - kl.sum()
            else:  # a constant (0 when masked out) for every element of the batch
                elbo = elbo - kl * guide_site["fn"].batch_shape.numel()
        for name, guide_site in guide_trace.nodes.items():
            if guide_site["type"] == "sample" and name not in model_trace.nodes:
                _check_reparameterized(guide_site)
                elbo = elbo - guide_site["score_parts"].entropy_term.sum()
        return elbo, None


def _check_reparameterized(site):
    if not is_identically_zero(site["score_parts"].score_function):
        raise ConfigError(
            f"the meanfield objective needs a reparameterized guide, but site '{site['name']}' "
            "is not; use the 'trace' objective"
        )


@OBJECTIVES.register("meanfield")
def meanfield(num_particles=1, max_plate_nesting=1):
    """Pyro TraceMeanField_ELBO: analytic KL(q || p) where one is registered, else Monte Carlo.

    :param int num_particles: samples of z for the reconstruction term, vectorized (default 1).
    """
    return trace_family(MeanFieldELBO, num_particles, max_plate_nesting)
