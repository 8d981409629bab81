"""``exponential``: η_e = η₀ · γ^e."""

import torch

from .base import SCHEDULERS, EpochScheduler, check_factor

__all__ = ["exponential"]


@SCHEDULERS.register("exponential")
def exponential(optimizer, gamma=0.99):
    """Multiply the rate by gamma after every epoch (torch ExponentialLR).

    :param float gamma: the factor, in (0, 1] (default 0.99).
    """
    return EpochScheduler(optimizer, torch.optim.lr_scheduler.ExponentialLR(
        optimizer, check_factor("scheduler 'exponential'", "gamma", gamma)))
