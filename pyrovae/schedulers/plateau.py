"""Reduce the rate when the validation ELBO stops improving
(:class:`torch.optim.lr_scheduler.ReduceLROnPlateau`, mode ``"max"``).

An epoch improves on the best ELBO so far, :math:`L^*`, when its ELBO :math:`L > L^* +
\\tau` (``threshold``, in nats: an absolute margin, since ELBOs may be negative or positive and a
relative one would change meaning with the sign). After more than ``patience`` validated epochs in
a row without improvement the rate becomes :math:`\\max(f \\eta, \\eta_{\\min})` (``factor``,
``min_lr``) and the count restarts. Epochs without validation (``valid_elbo=None``) are skipped:
they neither improve nor count against patience.
"""

from torch.optim.lr_scheduler import ReduceLROnPlateau

from .base import SCHEDULERS, Scheduler, check_count, check_factor, check_nonnegative

__all__ = ["PlateauScheduler", "plateau"]


class PlateauScheduler(Scheduler):
    """Steps a ``ReduceLROnPlateau`` with the validation ELBO; skips epochs without one.

    :param optimizer: the optimizer.
    :param scheduler: a ``ReduceLROnPlateau`` in mode ``"max"`` built on ``optimizer``.
    """

    def _advance(self, valid_elbo):
        if valid_elbo is not None:
            self.scheduler.step(valid_elbo)


@SCHEDULERS.register("plateau")
def plateau(optimizer, factor=0.1, patience=10, threshold=0.01, min_lr=0.0):
    """Multiply the rate by factor after patience validations without an ELBO gain > threshold."""
    where = "scheduler 'plateau'"
    factor = check_factor(where, "factor", factor, allow_one=False)
    patience = check_count(where, "patience", patience, minimum=0)
    threshold = check_nonnegative(where, "threshold", threshold)
    min_lr = check_nonnegative(where, "min_lr", min_lr)
    torch_scheduler = ReduceLROnPlateau(
        optimizer,
        mode="max",
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode="abs",
        min_lr=min_lr,
    )
    return PlateauScheduler(optimizer, torch_scheduler)
