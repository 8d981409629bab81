"""``iwae``: the importance-weighted bound (Burda et al., 2016) as a training objective.

    L_K(x) = log (1/K) Σ_k p(x, z_k) / q(z_k|x),  z_k ~ q(z|x),

which is Rényi's bound at α = 0 (:mod:`.renyi`): L_1 is the ELBO and L_K increases to log p(x)
as K grows.
"""

from .base import OBJECTIVES, check_particles
from .renyi import RenyiELBO

__all__ = ["iwae"]


@OBJECTIVES.register("iwae")
def iwae(num_particles=5, max_plate_nesting=1):
    """Importance-weighted bound with K particles (Pyro RenyiELBO, α = 0).

    :param int num_particles: samples K of z per example, vectorized (default 5).
    """
    return RenyiELBO(
        alpha=0.0,
        num_particles=check_particles(num_particles),
        vectorize_particles=True,
        max_plate_nesting=max_plate_nesting,
    )
