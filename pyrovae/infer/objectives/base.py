"""The objective registry: each entry builds a Pyro ELBO.

An objective is built as ``factory(max_plate_nesting=..., **options)`` and must return an object
with ``differentiable_loss(model, guide, *args)`` (every Pyro ``ELBO`` has it). Particles are
vectorized: the model and guide run once on a leading particle dimension, not in a Python loop.
"""

from pyro.distributions.util import is_identically_zero

from ...errors import ConfigError
from ...registry import Registry

__all__ = ["OBJECTIVES", "SyncFreeLoss", "check_particles", "score_function_surrogate",
           "trace_family"]

OBJECTIVES = Registry("objective", builder_args=("max_plate_nesting",))


class SyncFreeLoss:
    """Mixin for Pyro ELBOs: ``differentiable_loss`` without host synchronization.

    Pyro 1.9's ``Trace_ELBO`` and ``TraceMeanField_ELBO`` read every site's log-probability sum
    back to the host (``torch_item``) to build a float that ``differentiable_loss`` then throws
    away, and check the loss for NaN (``warn_if_nan``) on every call: on a GPU each read waits
    for the device, several times per step, and a graph tracer stops at them. Here the
    per-particle terms stay tensors: the value is −ELBO and the gradient that of the surrogate
    (equal to −ELBO for reparameterized sites, plus the score-function terms otherwise), as in
    Pyro (tests compare both). NaN is found by the trainer's divergence monitor, once per check
    (:mod:`pyrovae.divergence`). Subclasses give ``_particle_terms(model_trace, guide_trace)``
    → ``(elbo, surrogate_elbo)``, 0-d tensors, the surrogate ``None`` when it equals the ELBO.
    """

    def differentiable_loss(self, model, guide, *args, **kwargs):
        elbo = surrogate = 0.0
        exact = True  # the surrogate equals the ELBO for every particle
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            particle, particle_surrogate = self._particle_terms(model_trace, guide_trace)
            elbo = elbo + particle
            if particle_surrogate is None:
                surrogate = surrogate + particle
            else:
                exact = False
                surrogate = surrogate + particle_surrogate
        if exact:
            return -surrogate / self.num_particles
        loss, surrogate_loss = -elbo / self.num_particles, -surrogate / self.num_particles
        return loss.detach() + (surrogate_loss - surrogate_loss.detach())


def score_function_surrogate(model_trace, guide_trace):
    """The guide's part of Pyro's ``Trace_ELBO`` surrogate, −Σ entropy terms + Σ log r ·
    score-function terms over its sample sites (``site["score_parts"]``), or ``None`` when every
    site is reparameterized (the surrogate is then the ELBO itself)."""
    from pyro.infer.trace_elbo import _compute_log_r

    sites = [s for s in guide_trace.nodes.values() if s["type"] == "sample"]
    if all(is_identically_zero(s["score_parts"].score_function) for s in sites):
        return None
    log_r = _compute_log_r(model_trace, guide_trace)
    total = 0.0
    for site in sites:
        _, score_function, entropy_term = site["score_parts"]
        if not is_identically_zero(entropy_term):
            total = total - entropy_term.sum()
        if not is_identically_zero(score_function):
            total = total + (log_r.sum_to(site["cond_indep_stack"]) * score_function).sum()
    return total


def check_particles(num_particles):
    if isinstance(num_particles, bool) or not isinstance(num_particles, int) or num_particles < 1:
        raise ConfigError(f"num_particles must be a positive integer, got {num_particles!r}")
    return num_particles


def trace_family(cls, num_particles, max_plate_nesting):
    """An ELBO of the Trace_ELBO family with ``num_particles`` vectorized particles."""
    check_particles(num_particles)
    options = dict(
        num_particles=num_particles,
        vectorize_particles=num_particles > 1,
        max_plate_nesting=max_plate_nesting,
    )
    return cls(**options)
