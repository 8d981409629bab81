"""The constant learning rate: :math:`\\eta_e = \\eta_0` for every epoch :math:`e`."""

from .base import SCHEDULERS, EpochScheduler

__all__ = ["constant"]


@SCHEDULERS.register("none")
def constant(optimizer):
    """Constant learning rate (no schedule)."""
    return EpochScheduler(optimizer)
