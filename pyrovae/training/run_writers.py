"""The callbacks that write a run directory: its metrics file, its checkpoints, its figures.

A run is these files (:mod:`pyrovae.runfiles`); the session that trains a run
(:mod:`pyrovae.training.session`) adds the three callbacks to its loop.

An epoch's files are one transaction (:meth:`~pyrovae.rundir.RunDirectory.transaction`):
:class:`MetricsFile` stages metrics.csv, :class:`Checkpoints` stages best.pt and checkpoint.pt
and commits them together, so an epoch's row and its checkpoints appear together or not at all
(a full disk at any of them leaves every file as it was). The final reports' figures are staged
into the reports' transaction; a figure that fails to draw is skipped with a warning, never
ending the run.
"""

import contextlib
import warnings
from pathlib import Path

from .. import rng
from ..callbacks.base import Callback
from ..checkpoint import save_checkpoint
from ..errors import PyroVAEError
from ..plots import as_images, save_grid, save_reconstructions
from ..runfiles import BEST, write_metrics

__all__ = ["Checkpoints", "Figures", "MetricsFile", "staging", "write_figures"]


def staging(fit):
    """A block in which the run's files are staged into its pending transaction
    (:meth:`~pyrovae.rundir.RunDirectory.transaction`); a plain block when ``fit.run`` has no
    transactions."""
    transaction = getattr(fit.run, "transaction", None)
    return contextlib.nullcontext() if transaction is None else transaction().staging()


class MetricsFile(Callback):
    """``metrics.csv``, rewritten after every epoch with every row so far: staged into the
    epoch's transaction, which :class:`Checkpoints` commits."""

    name = "metrics-file"

    def on_epoch_end(self, fit):
        with staging(fit):
            write_metrics(fit.run_dir, fit.rows)


class Checkpoints(Callback):
    """``checkpoint.pt`` after every epoch (weights and everything a resume needs: the
    trainer's, the batches' and the random states), and ``best.pt`` when the validation ELBO
    improved, staged with what the epoch's other writers staged and committed with them (the
    epoch's transaction). The first checkpoint commits the run
    (:meth:`~pyrovae.rundir.RunDirectory.commit`): from then on the run is in its place and can
    be resumed."""

    name = "checkpoints"

    def on_epoch_end(self, fit):
        self.save(fit, fit.row["epoch"], fit.improved)

    @staticmethod
    def save(fit, epoch, improved):
        common = dict(event_shape=fit.dataset.event_shape, num_classes=fit.dataset.num_classes,
                      epoch=epoch)
        training = {"trainer": fit.trainer.state_dict(), "batches": fit.batches.state_dict(),
                    "rng": rng.get_state()}
        with staging(fit):
            if improved:
                save_checkpoint(fit.run_dir, fit.module, fit.config, name=BEST, **common)
            save_checkpoint(fit.run_dir, fit.module, fit.config, training=training, **common)
        commit_files = getattr(fit.run, "commit_files", None)
        if commit_files is not None:
            commit_files()  # the epoch's files, together
        if not fit.run.committed:
            fit.run.commit()  # the first checkpoint exists: the run takes its place


def write_figures(module, dataset, run_dir, n=64):
    """samples.png (from the prior) and reconstructions.png (test images and their
    reconstructions), plus whatever the module's own ``figures(dataset, run_dir)`` hook writes;
    skipped for data that are not images. Returns the paths written (the kind's figures return
    theirs), which ``results.json`` lists under ``files`` and ``pyrovae train`` prints.

    A figure that fails to draw (data it cannot show, a bug in a plot) is skipped with one
    warning naming it and the error, and the run still finishes. One of pyrovae's one-line
    errors (a full disk, a read-only folder) still ends the reports: a resume finishes them.
    """
    module.eval()
    written = []
    run_dir = Path(run_dir)

    def samples():
        images = as_images(module.sample(n), dataset.event_shape)
        return [save_grid(images, run_dir / "samples.png", nrow=8)]

    def reconstructions():
        x, y = dataset.test.x[:32], module.given(dataset.test.y)
        y = None if y is None else y[:32]
        originals = as_images(x, dataset.event_shape)
        recons = as_images(module.reconstruct(x, y), dataset.event_shape)
        return [save_reconstructions(originals, recons, run_dir / "reconstructions.png")]

    drawn = []
    if _drawable(dataset):
        if module.unconditional_samples:
            drawn.append(("samples.png", samples))
        drawn.append(("reconstructions.png", reconstructions))
    figures = getattr(module, "figures", None)  # a model kind's own pictures, if it has any
    if figures is not None:
        drawn.append((f"the figures of model kind {type(module).__name__}",
                      lambda: list(figures(dataset, run_dir))))
    for name, draw in drawn:
        written.extend(_skipping(name, draw))
    return written


def _drawable(dataset):
    try:
        return as_images(dataset.test.x[:1], dataset.event_shape) is not None
    except Exception as e:  # noqa: BLE001 - any failure to see images only skips the figures
        _skipped("the figures", e)
        return False


def _skipping(name, draw):
    """``draw()`` (the paths it wrote), or ``[]`` with a warning when it fails."""
    try:
        return draw()
    except PyroVAEError:
        raise  # a full disk, a read-only folder: one line, and the reports stay unfinished
    except Exception as e:  # noqa: BLE001 - a figure never ends a run
        _skipped(name, e)
        return []


def _skipped(name, e):
    detail = " ".join(str(e).split()) or type(e).__name__
    warnings.warn(f"{name} could not be drawn and {'were' if name.startswith('the') else 'was'} "
                  f"skipped ({type(e).__name__}: {detail}); the run's other files are complete",
                  stacklevel=3)


class Figures(Callback):
    """The run's figures (:func:`write_figures`), drawn with the best epoch's weights in the
    final reports and staged into their transaction; their names go into ``results.json``'s
    ``files``."""

    name = "figures"

    def on_run_end(self, fit, results):
        with staging(fit):
            written = write_figures(fit.module, fit.dataset, fit.run_dir)
        results["files"].extend(Path(path).name for path in written)
