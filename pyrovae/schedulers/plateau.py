"""``plateau``: divide the rate when the validation ELBO stops improving.

torch's ReduceLROnPlateau in mode ``"max"`` on the validation ELBO (higher is better): after
``patience`` validated epochs without an improvement larger than ``threshold`` (relative), the
rate is multiplied by ``factor``, never below ``min_lr``. Epochs without validation are skipped.
"""

import torch

from .base import SCHEDULERS, Scheduler, check_count, check_factor, check_nonnegative

__all__ = ["PlateauScheduler", "plateau"]


class PlateauScheduler(Scheduler):
    """A :class:`~pyrovae.schedulers.base.Scheduler` stepped with the validation ELBO."""

    def _advance(self, valid_elbo):
        if valid_elbo is not None:
            self.scheduler.step(valid_elbo)


@SCHEDULERS.register("plateau")
def plateau(optimizer, factor=0.5, patience=10, threshold=1e-4, min_lr=0.0):
    """Multiply the rate by factor after patience epochs without a better validation ELBO.

    :param float factor: in (0, 1) (default 0.5).
    :param int patience: validated epochs to wait (default 10).
    :param float threshold: relative improvement that counts (default 1e-4).
    :param float min_lr: a floor on the rate (default 0).
    """
    where = "scheduler 'plateau'"
    return PlateauScheduler(optimizer, torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=check_factor(where, "factor", factor, allow_one=False),
        patience=check_count(where, "patience", patience, minimum=0),
        threshold=check_nonnegative(where, "threshold", threshold),
        min_lr=check_nonnegative(where, "min_lr", min_lr)))
