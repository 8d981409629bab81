"""Cosine annealing (Loshchilov & Hutter 2017, without restarts) from :math:`\\eta_0` down to
:math:`\\eta_{\\min}` over :math:`T` = ``t_max`` epochs, then constant:

.. math:: \\eta_e = \\eta_{\\min} + \\tfrac12 (\\eta_0 - \\eta_{\\min})
          \\bigl(1 + \\cos(\\pi \\min(e, T) / T)\\bigr).

:class:`torch.optim.lr_scheduler.CosineAnnealingLR` does the arithmetic; it is not stepped after
epoch :math:`T`, where torch's rate would climb back up along the cosine.
"""

from torch.optim.lr_scheduler import CosineAnnealingLR

from .base import SCHEDULERS, EpochScheduler, check_count, check_nonnegative

__all__ = ["cosine"]


@SCHEDULERS.register("cosine")
def cosine(optimizer, t_max, eta_min=0.0):
    """Cosine annealing to eta_min over t_max epochs, then constant at eta_min."""
    where = "scheduler 'cosine'"
    t_max = check_count(where, "t_max", t_max)
    eta_min = check_nonnegative(where, "eta_min", eta_min)
    return EpochScheduler(optimizer, CosineAnnealingLR(optimizer, t_max, eta_min), hold_after=t_max)
