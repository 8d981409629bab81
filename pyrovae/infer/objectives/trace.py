"""``trace``: Pyro's Trace_ELBO, the Monte Carlo ELBO."""

from pyro.infer import Trace_ELBO

from .base import OBJECTIVES, check_particles
from .jit import JitTraceELBO

__all__ = ["trace"]


@OBJECTIVES.register("trace")
def trace(num_particles=1, jit=False, max_plate_nesting=1):
    """Pyro Trace_ELBO: Monte Carlo ELBO, log p(x,z) − log q(z|x) at sampled z.

    :param int num_particles: samples of z per example, vectorized (default 1).
    :param bool jit: compile with Pyro's JIT (default ``False``; see :mod:`.jit`).
    """
    check_particles(num_particles)
    options = dict(
        num_particles=num_particles,
        vectorize_particles=num_particles > 1,
        max_plate_nesting=max_plate_nesting,
    )
    if jit:
        return JitTraceELBO(ignore_jit_warnings=True, **options)
    return Trace_ELBO(**options)
