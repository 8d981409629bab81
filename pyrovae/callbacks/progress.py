"""The progress bar of a training loop."""

from ..progress import progress_bar
from .base import CALLBACKS, Callback

__all__ = ["ProgressBar"]


@CALLBACKS.register("progress")
class ProgressBar(Callback):
    """A tqdm bar over the steps of the epochs still to run, with the last training loss and
    validation ELBO; shown on a terminal (or always with ``enabled=True``).

    :param enabled: ``True``: always; ``False``: never; ``None`` (default): when stderr is a
        terminal (:func:`pyrovae.progress.shows_progress`).
    """

    name = "progress"

    def __init__(self, enabled=None):
        self.enabled = enabled
        self.bar = None

    def on_fit_start(self, fit):
        steps = max(0, fit.epochs - fit.trainer.epoch) * len(fit.batches)
        self.bar = progress_bar(steps, unit="step", enabled=self.enabled)

    def on_step_end(self, fit, loss):
        self.bar.update(1)

    def on_epoch_end(self, fit):
        row = fit.row
        postfix = {"loss": f"{row['train_loss']:.2f}"}
        if "valid_elbo" in row:
            postfix["valid_elbo"] = f"{row['valid_elbo']:.2f}"
        self.bar.set_postfix(postfix)

    def on_fit_end(self, fit):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
