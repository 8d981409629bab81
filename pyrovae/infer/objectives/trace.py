"""``trace``: Pyro's Trace_ELBO, the Monte Carlo ELBO."""

from pyro.infer import Trace_ELBO

from .base import OBJECTIVES, check_particles

__all__ = ["trace"]


@OBJECTIVES.register("trace")
def trace(num_particles=1, max_plate_nesting=1):
    """Pyro Trace_ELBO: Monte Carlo ELBO, log p(x,z) − log q(z|x) at sampled z.

    :param int num_particles: samples of z per example, vectorized (default 1).
    """
    check_particles(num_particles)
    return Trace_ELBO(
        num_particles=num_particles,
        vectorize_particles=num_particles > 1,
        max_plate_nesting=max_plate_nesting,
    )
