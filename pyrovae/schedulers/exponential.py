"""Exponential decay: :math:`\\eta_e = \\eta_0 \\, \\gamma^e`
(:class:`torch.optim.lr_scheduler.ExponentialLR`)."""

from torch.optim.lr_scheduler import ExponentialLR

from .base import SCHEDULERS, EpochScheduler, check_factor

__all__ = ["exponential"]


@SCHEDULERS.register("exponential")
def exponential(optimizer, gamma):
    """Multiply the rate by gamma every epoch."""
    gamma = check_factor("scheduler 'exponential'", "gamma", gamma)
    return EpochScheduler(optimizer, ExponentialLR(optimizer, gamma))
