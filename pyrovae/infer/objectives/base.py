"""The objective registry: each entry builds a Pyro ELBO.

An objective is built as ``factory(max_plate_nesting=..., **options)`` and must return an object
with ``differentiable_loss(model, guide, *args)`` (every Pyro ``ELBO`` has it). Particles are
vectorized: the model and guide run once on a leading particle dimension, not in a Python loop.
"""

from ...errors import ConfigError
from ...registry import Registry

__all__ = ["OBJECTIVES", "check_particles", "trace_family"]

OBJECTIVES = Registry("objective", builder_args=("max_plate_nesting",))


def check_particles(num_particles):
    if isinstance(num_particles, bool) or not isinstance(num_particles, int) or num_particles < 1:
        raise ConfigError(f"num_particles must be a positive integer, got {num_particles!r}")
    return num_particles


def trace_family(eager_cls, jit_cls, num_particles, jit, max_plate_nesting):
    """An ELBO of the Trace_ELBO family: ``num_particles`` vectorized particles, eager or JIT."""
    check_particles(num_particles)
    options = dict(
        num_particles=num_particles,
        vectorize_particles=num_particles > 1,
        max_plate_nesting=max_plate_nesting,
    )
    if jit:
        return jit_cls(ignore_jit_warnings=True, **options)
    return eager_cls(**options)
