"""``meanfield``: Pyro's TraceMeanField_ELBO, the ELBO with a closed-form KL."""

from pyro.infer import TraceMeanField_ELBO

from .base import OBJECTIVES, trace_family
from .jit import JitMeanFieldELBO

__all__ = ["meanfield"]


@OBJECTIVES.register("meanfield")
def meanfield(num_particles=1, jit=False, max_plate_nesting=1):
    """Pyro TraceMeanField_ELBO: analytic KL(q || p) where one is registered, else Monte Carlo.

    :param int num_particles: samples of z for the reconstruction term, vectorized (default 1).
    :param bool jit: compile with Pyro's JIT (default ``False``; see :mod:`.jit`).
    """
    return trace_family(TraceMeanField_ELBO, JitMeanFieldELBO, num_particles, jit, max_plate_nesting)
