"""``cosine``: cosine annealing from η₀ to η_min over ``t_max`` epochs,
η_e = η_min + (η₀ − η_min)(1 + cos(π e / t_max)) / 2, then η_min."""

import torch

from .base import SCHEDULERS, EpochScheduler, check_count, check_nonnegative

__all__ = ["cosine"]


@SCHEDULERS.register("cosine")
def cosine(optimizer, t_max=100, eta_min=0.0):
    """Cosine annealing to eta_min over t_max epochs, then constant (torch CosineAnnealingLR).

    :param int t_max: epochs of the half cosine (default 100).
    :param float eta_min: the final rate (default 0).
    """
    where = "scheduler 'cosine'"
    t_max = check_count(where, "t_max", t_max)
    return EpochScheduler(optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, t_max, check_nonnegative(where, "eta_min", eta_min)), hold_after=t_max)
