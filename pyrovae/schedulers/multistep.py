"""``multistep``: multiply the rate by γ at each milestone epoch,
η_e = η₀ · γ^(number of milestones ≤ e)."""

import torch

from ..errors import ConfigError
from .base import SCHEDULERS, EpochScheduler, check_count, check_factor

__all__ = ["multistep"]


@SCHEDULERS.register("multistep")
def multistep(optimizer, milestones=(100,), gamma=0.1):
    """Multiply the rate by gamma at each milestone epoch (torch MultiStepLR).

    :param list milestones: strictly increasing epochs (default ``[100]``).
    :param float gamma: the factor, in (0, 1] (default 0.1).
    """
    where = "scheduler 'multistep'"
    if not isinstance(milestones, (list, tuple)) or not milestones:
        raise ConfigError(f"{where}: milestones must be a non-empty list of epochs, got "
                          f"{milestones!r}")
    epochs = [check_count(where, "each milestone", m) for m in milestones]
    if any(b <= a for a, b in zip(epochs, epochs[1:])):
        raise ConfigError(f"{where}: milestones must increase strictly, got {list(milestones)}")
    return EpochScheduler(optimizer, torch.optim.lr_scheduler.MultiStepLR(
        optimizer, epochs, check_factor(where, "gamma", gamma)))
