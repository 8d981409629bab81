"""``trace``: Pyro's Trace_ELBO, the Monte Carlo ELBO, without host synchronization."""

from pyro.infer import Trace_ELBO

from .base import OBJECTIVES, SyncFreeLoss, score_function_surrogate, trace_family

__all__ = ["TraceELBO", "trace"]


class TraceELBO(SyncFreeLoss, Trace_ELBO):
    """Pyro's ``Trace_ELBO``: per particle, ELBO = Σ_model log p − Σ_guide log q at the sampled
    values; the surrogate adds log r · score-function terms for sites that are not
    reparameterized. Its ``differentiable_loss`` never reads a tensor back
    (:class:`~.base.SyncFreeLoss`)."""

    def _particle_terms(self, model_trace, guide_trace):
        elbo = 0.0
        for site in model_trace.nodes.values():
            if site["type"] == "sample":
                elbo = elbo + site["log_prob_sum"]
        surrogate = score_function_surrogate(model_trace, guide_trace)
        if surrogate is not None:
            surrogate = surrogate + elbo
        for site in guide_trace.nodes.values():
            if site["type"] == "sample":
                elbo = elbo - site["log_prob_sum"]
        return elbo, surrogate


@OBJECTIVES.register("trace")
def trace(num_particles=1, max_plate_nesting=1):
    """Pyro Trace_ELBO: Monte Carlo ELBO, log p(x,z) − log q(z|x) at sampled z.

    :param int num_particles: samples of z per example, vectorized (default 1).
    """
    return trace_family(TraceELBO, num_particles, max_plate_nesting)
