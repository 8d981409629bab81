"""The interface of a training callback, and the registry of the ones a config can name.

:meth:`pyrovae.training.Trainer.fit` keeps the loop small, as Lightning's ``Callback`` and
pythae's ``TrainingCallback`` do: it steps, validates and steps the schedule; everything else
(the metrics file, checkpoints, early stopping, TensorBoard, MLflow, figures, the progress bar)
is a callback that the loop calls at fixed points::

    on_fit_start(fit)          once, before the first epoch of this call
    on_step_end(fit, loss)     after every step (only for callbacks that define it)
    on_epoch_end(fit)          after every epoch: fit.row holds its metrics
    on_fit_end(fit)            once, after the last epoch (also when training failed)
    on_run_end(fit, results)   a run directory's final reports: the best epoch's weights are
                               loaded and ``results`` (results.json's dict) is complete, but not
                               yet written; a callback may add to it (``results["files"]``)

Every hook receives the :class:`Fit`, the state of the loop: the trainer (and through it the
module), the data set, the rows so far, the epoch's row, and for a run directory its path and
config. A callback stops training with :meth:`Fit.stop`.

Write your own by subclassing :class:`Callback` and pass it from Python
(``Trainer(..., callbacks=[MyLogger()])``, ``pv.fit(config, callbacks=[...])``), or register it
in :data:`CALLBACKS` to name it in a config (``train.callbacks = [{ name = "mlflow" }]``).

An exception other than a :class:`~pyrovae.errors.PyroVAEError` raised by a callback is
reported as a :class:`~pyrovae.errors.CallbackError` that names the callback and the hook; the
run's last checkpoint (written atomically) stays intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..registry import Registry

__all__ = ["CALLBACKS", "Callback", "Fit"]

#: callbacks a config can name in ``train.callbacks`` (``pyrovae list`` shows them)
CALLBACKS = Registry("callback")


class Callback:
    """A training callback: override the hooks you need (each does nothing by default)."""

    #: the callback's name in error messages (default: its class name)
    name: str | None = None

    def on_fit_start(self, fit: Fit) -> None:
        """Before the first epoch of :meth:`~pyrovae.training.Trainer.fit`."""

    def on_epoch_end(self, fit: Fit) -> None:
        """After every epoch; ``fit.row`` is the epoch's metrics row, ``fit.improved`` says
        whether its validation ELBO is the best so far."""

    def on_fit_end(self, fit: Fit) -> None:
        """After the last epoch, or when training stopped with an error (``fit.error``)."""

    def on_run_end(self, fit: Fit, results: dict[str, Any]) -> None:
        """A run directory's final reports (see the module's docstring)."""

    # on_step_end(self, fit, loss) is called only where a callback defines it: it runs after
    # every step, and a loop over callbacks that do nothing there would cost every step.


def callback_name(callback):
    """The name a callback is reported under."""
    return callback.name or type(callback).__name__


@dataclass
class Fit:
    """The state of a training loop, as its callbacks see it.

    :ivar trainer: the :class:`~pyrovae.training.Trainer` (``fit.trainer.module`` is the model).
    :ivar dataset: the :class:`~pyrovae.data.DataSet` trained on.
    :ivar int epochs: the epoch training runs to.
    :ivar list rows: every epoch's metrics row so far (a resumed run's earlier rows included).
    :ivar dict row: the last epoch's row (``None`` before the first).
    :ivar bool improved: whether that epoch's validation ELBO is the best so far.
    :ivar run: the :class:`~pyrovae.rundir.RunDirectory` written, or ``None`` (training in
        memory, or a rank other than 0).
    :ivar config: the run's :class:`~pyrovae.config.Config` (``None`` without a run).
    :ivar dict settings: the same config as plain tables, ``{"train": {"lr": ..., ...}, ...}``
        (components as ``{"name": ..., **options}``), as config.toml holds it: for loggers
        that record a run's parameters (``None`` without a run).
    :ivar batches: the training batches (their state is part of a checkpoint).
    :ivar error: the exception that ended training, in :meth:`Callback.on_fit_end`.
    """

    # (``Any`` where the type lives in a layer above the callbacks': a Trainer, a DataSet, ...)
    trainer: Any
    dataset: Any
    epochs: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    row: dict[str, Any] | None = None
    improved: bool = False
    run: Any = None
    config: Any = None
    settings: dict[str, Any] | None = None
    batches: Any = None
    error: BaseException | None = None

    @property
    def module(self) -> Any:
        """The model being trained (``fit.trainer.module``)."""
        return self.trainer.module

    @property
    def run_dir(self) -> Path | None:
        """Where the run's files go now (its staging directory until the first checkpoint
        commits it, then the run directory); ``None`` without a run."""
        return None if self.run is None else Path(self.run.path)

    @property
    def epoch(self) -> int:
        """Epochs done so far."""
        return self.trainer.epoch

    def stop(self, reason: str) -> None:
        """End training after this epoch; ``reason`` is reported and kept in results.json."""
        if self.trainer.stop_reason is None:
            self.trainer.stop_reason = reason
