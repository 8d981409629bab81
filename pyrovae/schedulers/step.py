"""Step decay: the rate is multiplied by ``gamma`` every ``step_size`` epochs,

.. math:: \\eta_e = \\eta_0 \\, \\gamma^{\\lfloor e / s \\rfloor},

with :math:`s` = ``step_size`` (:class:`torch.optim.lr_scheduler.StepLR`).
"""

from torch.optim.lr_scheduler import StepLR

from .base import SCHEDULERS, EpochScheduler, check_count, check_factor

__all__ = ["step"]


@SCHEDULERS.register("step")
def step(optimizer, step_size, gamma=0.1):
    """Multiply the rate by gamma every step_size epochs."""
    where = "scheduler 'step'"
    step_size = check_count(where, "step_size", step_size)
    gamma = check_factor(where, "gamma", gamma)
    return EpochScheduler(optimizer, StepLR(optimizer, step_size, gamma))
