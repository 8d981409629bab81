"""Decay at milestones: the rate is multiplied by ``gamma`` at each milestone epoch,

.. math:: \\eta_e = \\eta_0 \\, \\gamma^{\\#\\{m \\in \\text{milestones} : m \\le e\\}}

(:class:`torch.optim.lr_scheduler.MultiStepLR`); e.g. ``milestones = [100, 150]`` trains at
:math:`\\eta_0` for epochs 0–99, :math:`\\gamma\\eta_0` for 100–149, then :math:`\\gamma^2\\eta_0`.
"""

from torch.optim.lr_scheduler import MultiStepLR

from ..errors import ConfigError
from .base import SCHEDULERS, EpochScheduler, check_count, check_factor

__all__ = ["multistep"]


@SCHEDULERS.register("multistep")
def multistep(optimizer, milestones, gamma=0.1):
    """Multiply the rate by gamma at each of the (increasing) milestone epochs."""
    where = "scheduler 'multistep'"
    if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
        raise ConfigError(f"{where}: milestones must be a list of epochs, got {milestones!r}")
    milestones = [check_count(where, "each milestone", m) for m in milestones]
    if not milestones or any(a >= b for a, b in zip(milestones, milestones[1:])):
        raise ConfigError(
            f"{where}: milestones must be a non-empty, strictly increasing list of epochs, "
            f"e.g. [100, 150], got {milestones}"
        )
    gamma = check_factor(where, "gamma", gamma)
    return EpochScheduler(optimizer, MultiStepLR(optimizer, milestones, gamma))
