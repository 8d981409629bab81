"""``none``: a constant learning rate."""

from .base import SCHEDULERS, EpochScheduler

__all__ = ["none"]


@SCHEDULERS.register("none")
def none(optimizer):
    """Constant learning rate (train.lr) for every epoch."""
    return EpochScheduler(optimizer)
