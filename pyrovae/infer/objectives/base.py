"""The objective registry: each entry builds a Pyro ELBO.

An objective is built as ``factory(max_plate_nesting=..., **options)`` and must return an object
with ``differentiable_loss(model, guide, *args)`` (every Pyro ``ELBO`` has it). Particles are
vectorized: the model and guide run once on a leading particle dimension, not in a Python loop.
"""

from ...errors import ConfigError
from ...registry import Registry

__all__ = ["OBJECTIVES", "check_particles"]

OBJECTIVES = Registry("objective", builder_args=("max_plate_nesting",))


def check_particles(num_particles):
    if isinstance(num_particles, bool) or not isinstance(num_particles, int) or num_particles < 1:
        raise ConfigError(f"num_particles must be a positive integer, got {num_particles!r}")
    return num_particles
