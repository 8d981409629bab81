"""Reading a trained run back: its config, its model with the weights of a checkpoint, its data.

::

    import pyrovae as pv

    run = pv.load_run("runs/digits-vae", checkpoint="best")
    run.model.evaluate(run.data.test.x)          # the model as it was trained, in eval mode
    run.config.model.z_dim, run.epoch            # its config; the checkpoint's epoch
    run.metrics[-1], run.results                 # metrics.csv rows; results.json (None: unfinished)

Reading a run depends on nothing of the machine that reads it: a run trained with 64 threads
or on a GPU is read on a 2-core laptop with ``device="cpu"``.

A run's files are read as a whole: its config.toml must agree with the checkpoint in every
setting that changes a number (:func:`~pyrovae.checkpoint.check_config`: an edited
``data.split_seed`` would evaluate on another test split), and a ``best.pt`` must belong with
the run's ``checkpoint.pt`` (:func:`~pyrovae.checkpoint.check_best`); each is refused in one
line otherwise. A transaction on the run's files that a crash interrupted (an epoch's files, the
final reports) is finished or undone before anything is read (:func:`~pyrovae.rundir.recover_run`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import checks
from .checkpoint import check_best, load_checkpoint, read_checkpoint
from .config import with_values
from .device import resolve_device
from .rundir import recover_run
from .runfiles import BEST, CHECKPOINT, load_run_config, read_metrics, read_results
from .run_data import load_data

if TYPE_CHECKING:
    import torch

    from .config import Config
    from .data.base import DataSet
    from .models.base import LatentVariableModel

__all__ = ["Run", "load_run", "open_run"]


@dataclass
class Run:
    """A trained run, read back by :func:`load_run`.

    :ivar Path dir: the run directory.
    :ivar config: its resolved :class:`~pyrovae.config.Config`.
    :ivar model: the :class:`~pyrovae.models.base.LatentVariableModel` with the checkpoint's
        weights, on :attr:`device`, in eval mode.
    :ivar data: its :class:`~pyrovae.data.DataSet` on :attr:`device` (the same splits, labels
        and binarization as in training), or ``None`` when read with ``data=False``.
    :ivar dict checkpoint: the checkpoint's dict (:mod:`pyrovae.checkpoint`).
    :ivar device: the ``torch.device`` the model and data are on.
    """

    dir: Path
    config: Config
    model: LatentVariableModel
    data: DataSet | None
    checkpoint: dict[str, Any] = field(repr=False)
    device: torch.device | None = None

    @property
    def epoch(self) -> int:
        """The epoch the weights are from."""
        return int(self.checkpoint["epoch"])

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` (:func:`~pyrovae.runfiles.read_metrics`)."""
        return read_metrics(self.dir)

    @property
    def results(self) -> dict[str, Any] | None:
        """The dict of ``results.json``; ``None`` while the run has not finished."""
        return read_results(self.dir)


def open_run(
    run_dir: str | os.PathLike[str], device: str | torch.device = "cpu",
    data_dir: str | os.PathLike[str] | None = None, checkpoint: str = "best",
) -> tuple[Config, LatentVariableModel, dict[str, Any], torch.device]:
    """The config, model and checkpoint of a run: ``(config, module, checkpoint_dict, device)``,
    without its data (:func:`load_run` reads that too).

    :param str device: where to put the module (``cpu``, ``cuda``, ``cuda:N``, ``mps``,
        ``auto``).
    :param data_dir: replaces the run's ``data.dir`` in the returned config (the data moved
        since training); the run's files are not changed.
    :param str checkpoint: ``"best"`` (``best.pt``, the best validation ELBO; the last epoch's
        ``checkpoint.pt`` for runs without one) or ``"last"``.
    """
    checks.choice(checkpoint, "checkpoint", ("best", "last"))
    recover_run(run_dir)  # a transaction a crash interrupted: finished or undone first
    config = load_run_config(run_dir)
    if data_dir is not None:
        config = with_values(config, **{"data.dir": str(data_dir)})
    device = resolve_device(str(device))
    name = BEST if checkpoint == "best" and (Path(run_dir) / BEST).exists() else CHECKPOINT
    module, state = load_checkpoint(run_dir, config, device, name=name)
    if name == BEST:  # the best epoch must be one of this run's, not after its last
        check_best(run_dir, state, read_checkpoint(Path(run_dir) / CHECKPOINT))
    module.eval()
    return config, module, state, device


def _check_load_run(arguments):
    """The arguments of :func:`load_run` by type (the run itself is checked as it is read)."""
    where = "pyrovae.load_run"
    checks.path(arguments["run_dir"], "run_dir", where)
    checks.choice(arguments["checkpoint"], "checkpoint", ("best", "last"), where)
    checks.device(arguments["device"], "device", where)
    checks.boolean(arguments["data"], "data", where)
    checks.path(arguments["data_dir"], "data_dir", where, none=True)


@checks.arguments(_check_load_run, "pyrovae.load_run")
def load_run(run_dir: str | os.PathLike[str], checkpoint: str = "best",
             device: str | torch.device = "cpu", data: bool = True,
             data_dir: str | os.PathLike[str] | None = None) -> Run:
    """A trained run, ready to evaluate, sample or continue studying (:class:`Run`).

    :param run_dir: the run directory (written by ``pyrovae train`` or :func:`pyrovae.fit`).
    :param str checkpoint: ``"best"`` (``best.pt``: the best validation ELBO; the last epoch's
        weights for a run without one, default) or ``"last"`` (``checkpoint.pt``).
    :param str device: where to put the model and data (default ``"cpu"``).
    :param bool data: also load the run's data set (default ``True``).
    :param data_dir: where the data set is now, if it moved since training.
    :raises PyroVAEError: (one line) not a run, a corrupt or mismatched checkpoint, code of the
        run's own that changed, data that cannot be loaded.
    """
    config, module, state, device = open_run(run_dir, device, data_dir, checkpoint)
    dataset = load_data(config, device) if data else None
    if dataset is not None:
        module.check_data(dataset)
    return Run(Path(run_dir), config, module, dataset, state, device)
