"""``trace``: Pyro's Trace_ELBO, the Monte Carlo ELBO."""

from pyro.infer import Trace_ELBO

from .base import OBJECTIVES, trace_family
from .jit import JitTraceELBO

__all__ = ["trace"]


@OBJECTIVES.register("trace")
def trace(num_particles=1, jit=False, max_plate_nesting=1):
    """Pyro Trace_ELBO: Monte Carlo ELBO, log p(x,z) − log q(z|x) at sampled z.

    :param int num_particles: samples of z per example, vectorized (default 1).
    :param bool jit: compile with Pyro's JIT (default ``False``; see :mod:`.jit`).
    """
    return trace_family(Trace_ELBO, JitTraceELBO, num_particles, jit, max_plate_nesting)
