"""The callbacks that write a run directory: its metrics file, its checkpoints, its figures.

A run is these files (:mod:`pyrovae.runfiles`); the session that trains a run
(:mod:`pyrovae.training.session`) adds the three callbacks to its loop. They write through
:func:`~pyrovae.files.atomic_write`, so a failure in any later callback leaves the last
checkpoint whole.
"""

from pathlib import Path

from .. import rng
from ..callbacks.base import Callback
from ..checkpoint import save_checkpoint
from ..plots import as_images, save_grid, save_reconstructions
from ..runfiles import BEST, write_metrics

__all__ = ["Checkpoints", "Figures", "MetricsFile", "write_figures"]


class MetricsFile(Callback):
    """``metrics.csv``, rewritten (atomically) after every epoch with every row so far."""

    name = "metrics-file"

    def on_epoch_end(self, fit):
        write_metrics(fit.run_dir, fit.rows)


class Checkpoints(Callback):
    """``checkpoint.pt`` after every epoch (weights and everything a resume needs: the
    trainer's, the batches' and the random states), and ``best.pt`` when the validation ELBO
    improved. The first checkpoint commits the run (:meth:`~pyrovae.rundir.RunDirectory.commit`):
    from then on the run is in its place and can be resumed."""

    name = "checkpoints"

    def on_epoch_end(self, fit):
        self.save(fit, fit.row["epoch"], fit.improved)

    @staticmethod
    def save(fit, epoch, improved):
        common = dict(event_shape=fit.dataset.event_shape, num_classes=fit.dataset.num_classes,
                      epoch=epoch)
        training = {"trainer": fit.trainer.state_dict(), "batches": fit.batches.state_dict(),
                    "rng": rng.get_state()}
        if improved:
            save_checkpoint(fit.run_dir, fit.module, fit.config, name=BEST, **common)
        save_checkpoint(fit.run_dir, fit.module, fit.config, training=training, **common)
        if not fit.run.committed:
            fit.run.commit()  # the first checkpoint exists: the run takes its place


def write_figures(module, dataset, run_dir, n=64):
    """samples.png (from the prior) and reconstructions.png (test images and their
    reconstructions), plus whatever the module's own ``figures(dataset, run_dir)`` hook writes;
    skipped for data that are not images. Returns the paths written (the kind's figures return
    theirs), which ``results.json`` lists under ``files`` and ``pyrovae train`` prints."""
    module.eval()
    written = []
    if as_images(dataset.test.x[:1], dataset.event_shape) is not None:
        if module.unconditional_samples:
            samples = as_images(module.sample(n), dataset.event_shape)
            written.append(save_grid(samples, Path(run_dir) / "samples.png", nrow=8))
        x, y = dataset.test.x[:32], module.given(dataset.test.y)
        y = None if y is None else y[:32]
        originals = as_images(x, dataset.event_shape)
        recons = as_images(module.reconstruct(x, y), dataset.event_shape)
        written.append(
            save_reconstructions(originals, recons, Path(run_dir) / "reconstructions.png")
        )
    figures = getattr(module, "figures", None)  # a model kind's own pictures, if it has any
    if figures is not None:
        written.extend(figures(dataset, Path(run_dir)))
    return written


class Figures(Callback):
    """The run's figures (:func:`write_figures`), drawn with the best epoch's weights in the
    final reports; their names go into ``results.json``'s ``files``."""

    name = "figures"

    def on_run_end(self, fit, results):
        written = write_figures(fit.module, fit.dataset, fit.run_dir)
        results["files"].extend(Path(path).name for path in written)
