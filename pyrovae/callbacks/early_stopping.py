"""Stop when the validation ELBO has not improved for a number of epochs."""

from ..registry import plural
from .base import CALLBACKS, Callback

__all__ = ["EarlyStopping"]


@CALLBACKS.register("early-stopping")
class EarlyStopping(Callback):
    """Stop training when the best validation ELBO is ``patience`` epochs old.

    The trainer keeps the best validation ELBO and its epoch (they are part of its state, so a
    resumed run stops where the uninterrupted one would); this callback only reads them.
    ``train.early_stopping = { patience = P }`` adds it.

    :param int patience: epochs without a better validation ELBO before stopping (≥ 1).
    """

    name = "early-stopping"

    def __init__(self, patience):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a whole number of epochs ≥ 1, got {patience!r}")
        self.patience = patience

    def on_epoch_end(self, fit):
        t = fit.trainer
        waited = t.epoch - t.best_epoch
        if waited >= self.patience:
            fit.stop(
                f"stopped early after epoch {t.epoch}: the validation ELBO has not improved for "
                f"{plural(waited, 'epoch')} (best {t.best_elbo:.4f} at epoch {t.best_epoch}, patience "
                f"{self.patience})"
            )
