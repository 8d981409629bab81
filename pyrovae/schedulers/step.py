"""``step``: multiply the rate by γ every ``step_size`` epochs, η_e = η₀ · γ^⌊e / step_size⌋."""

import torch

from .base import SCHEDULERS, EpochScheduler, check_count, check_factor

__all__ = ["step"]


@SCHEDULERS.register("step")
def step(optimizer, step_size=100, gamma=0.5):
    """Multiply the rate by gamma every step_size epochs (torch StepLR).

    :param int step_size: epochs between reductions (default 100).
    :param float gamma: the factor, in (0, 1] (default 0.5).
    """
    where = "scheduler 'step'"
    return EpochScheduler(optimizer, torch.optim.lr_scheduler.StepLR(
        optimizer, check_count(where, "step_size", step_size), check_factor(where, "gamma", gamma)))
