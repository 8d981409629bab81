"""A training run from its config: train it into a run directory, resume it, finish its reports.

:func:`train` (``pyrovae train``) checks everything that can be checked before anything is
written: the config (when it was loaded), the device, the data and its labels, the model's
programs, the objective and the optimizer. The run is then written as a transaction
(:class:`~pyrovae.rundir.RunDirectory`), which takes its target's place once the first epoch's
checkpoint exists. :func:`resume` (``pyrovae train --resume``) continues a run bit for bit from
the training state its checkpoint holds, or only finishes its final reports when training ended
before they were written. :func:`fit` is both for Python: it returns the trained
:class:`~pyrovae.runs.Run`.

Every epoch's files are one transaction on the run directory (a resume's rewritten config.toml
is part of its first); a failure before an epoch's commit leaves the run as it was. A run is
finished when its ``results.json`` exists: the final reports (:mod:`pyrovae.training.reports`)
are computed with the best epoch's weights and their own seed, so a run killed at any point
after its last epoch finishes them on resume with the numbers the uninterrupted run would
have written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyro
import torch

from .. import checks, distributed, rng
from .._version import __version__
from ..callbacks.base import CALLBACKS, Callback, Fit
from ..callbacks.tensorboard import TensorBoard
from ..checkpoint import VERSION, check_config, check_training, read_checkpoint
from ..config import Config, check_memory, config_to_dict, with_values
from ..data.arrays import is_array_file
from ..device import resolve_device
from ..errors import CheckpointError, ConfigError, TrainingError
from ..infer.analytic import kl_report
from ..models.base import build_model
from ..models.user import check_model
from ..plugins import short_name
from ..registry import article, plural
from ..rundir import RunDirectory, check_target, recover_run
from ..runfiles import (
    BEST,
    CHECKPOINT,
    load_run_config,
    read_metrics,
    read_results,
    write_config,
)
from ..run_data import features_checksum, load_data
from ..runs import Run
from . import reports
from .loop import Trainer
from .reports import config_hash
from .run_writers import Checkpoints, Figures, MetricsFile, staging

if TYPE_CHECKING:
    from ..models.base import LatentVariableModel

__all__ = ["Session", "config_hash", "default_run_dir", "fit", "resume", "train"]

#: keys that say where a run computes, not what: ``--resume`` may change them
PORTABLE = ("train.device", "train.num_threads")
#: keys a resume may change besides those: how far it runs, and what it reports to
RESUMABLE = ("train.epochs", "train.callbacks", "output.tensorboard", *PORTABLE)


def _quiet(*args, **kwargs):
    pass


def default_run_dir(config):
    """``runs/<data set>-<model kind>-<time stamp>``."""
    name = Path(config.data.name).stem if is_array_file(config.data.name) else None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name or config.data.name}-{short_name(config.model.kind)}-{stamp}"


def _config_argument(config, where, none=False):
    """A :class:`~pyrovae.config.Config` (``None`` too where ``none``); a dict or a path is
    answered with how to make one."""
    if config is None and none:
        return
    if not isinstance(config, Config):
        hint = ("; make one with pyrovae.load_config(path, overrides=[...]) or, from a dict, "
                "pyrovae.config.config_from_dict(d)" if isinstance(config, dict) else
                "; make one with pyrovae.load_config(path, overrides=[...])")
        raise ConfigError(f"{where}: config must be a pyrovae Config, got "
                          f"{checks.type_name(config)}{hint}")


def _callbacks_argument(callbacks, where):
    """A list (or tuple) of :class:`~pyrovae.callbacks.Callback` objects."""
    if isinstance(callbacks, Callback):
        raise ConfigError(f"{where}: callbacks must be a list of pyrovae.Callback objects, got "
                          f"one {checks.type_name(callbacks)}; put it in a list")
    if isinstance(callbacks, (str, bytes, dict)) or not isinstance(
            callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
        raise ConfigError(f"{where}: callbacks must be a list of pyrovae.Callback objects, got "
                          f"{checks.got(callbacks)}")


def _continuation_arguments(arguments, where):
    """How a resumed run continues (:func:`resume`, ``fit(resume=True)``): ``epochs`` an int
    ≥ 0, ``device`` a device, ``num_threads`` a positive int, each or ``None``."""
    if arguments["epochs"] is not None:
        checks.integer(arguments["epochs"], "epochs", where, minimum=0)
    if arguments["num_threads"] is not None:
        checks.integer(arguments["num_threads"], "num_threads", where, minimum=1)
    checks.device(arguments["device"], "device", where, none=True)


def _check_train(arguments):
    """The arguments of :func:`train` by type (the config's values were checked when it was
    made)."""
    where = "pyrovae.train"
    _config_argument(arguments["config"], where)
    checks.boolean(arguments["progress"], "progress", where, none=True)
    checks.boolean(arguments["overwrite"], "overwrite", where)
    checks.callable_or_none(arguments["log"], "log", where)
    _callbacks_argument(arguments["callbacks"], where)


def _check_fit(arguments):
    """The arguments of :func:`fit` by type; which go together (``epochs`` with ``resume``)
    is for :func:`fit` to say."""
    where = "pyrovae.fit"
    checks.boolean(arguments["resume"], "resume", where)
    _config_argument(arguments["config"], where, none=True)
    checks.path(arguments["run_dir"], "run_dir", where, none=True)
    checks.boolean(arguments["overwrite"], "overwrite", where)
    _continuation_arguments(arguments, where)
    _callbacks_argument(arguments["callbacks"], where)
    checks.boolean(arguments["quiet"], "quiet", where)


def _check_resume(arguments):
    """The arguments of :func:`resume` by type; whether the run can be resumed is for
    :func:`resume` to say."""
    where = "pyrovae.resume"
    checks.path(arguments["run_dir"], "run_dir", where)
    _continuation_arguments(arguments, where)
    checks.boolean(arguments["progress"], "progress", where, none=True)
    checks.callable_or_none(arguments["log"], "log", where)
    _callbacks_argument(arguments["callbacks"], where)


@checks.arguments(_check_train, "pyrovae.train")
def train(
    config: Config, progress: bool | None = None, overwrite: bool = False,
    log: Callable[[str], object] = print, callbacks: Sequence[Callback] = (),
) -> tuple[Path, LatentVariableModel, list[dict[str, Any]]]:
    """Train the model a config describes and write its run directory (``config.output.dir``,
    default :func:`default_run_dir`).

    A run that fails before its first checkpoint leaves nothing behind, and an ``overwrite``
    that fails leaves the old run untouched. ``config`` is not changed: the run's own config
    (with its directory and the checksum of an M1's checkpoint filled in) is written to it.

    :param progress: the progress bar (``None``: on a terminal; ``False``: never).
    :param log: prints the run's lines (the KL report, what is trained); ``print`` by default.
    :param callbacks: :class:`~pyrovae.callbacks.Callback` objects, after the run's own.
    :returns: ``(run_dir, module, rows)``; ``module`` holds the best validation epoch's weights.
    """
    session = _train(config, progress, overwrite, log, callbacks)
    return session.run_dir, session.module, session.rows


def _train(config, progress, overwrite, log, callbacks):
    """:func:`train`, returning the finished :class:`Session`."""
    target = Path(config.output.dir or default_run_dir(config))
    config = with_values(config, **{"output.dir": str(target),
                                    "data.features_checksum": features_checksum(config)})
    check_memory(config)  # a config built in Python (load_config checks its own)
    check_target(target, overwrite=overwrite)  # on every rank, before any work
    session = Session(config, progress, log, callbacks=callbacks)  # checks everything first
    session.run_dir = target
    if not session.world.is_main:  # only rank 0 writes (pyrovae.distributed)
        session.run(None)
        return session
    replacing = target.is_dir() and any(target.iterdir())
    with RunDirectory(target, overwrite=overwrite) as run:
        try:
            session.run(run)
        except TrainingError as e:
            if session.fit.rows:
                kept = f"{target} keeps the checkpoint of epoch {session.last_saved}"
            else:
                kept = (f"the existing run in {target} is untouched" if replacing
                        else f"nothing was written to {target}")
            raise type(e)(f"{e}; {kept}") from None
    return session


@checks.arguments(_check_resume, "pyrovae.resume")
def resume(
    run_dir: str | os.PathLike[str], epochs: int | None = None, progress: bool | None = None,
    log: Callable[[str], object] = print, device: str | None = None,
    num_threads: int | None = None, callbacks: Sequence[Callback] = (),
) -> tuple[Path, LatentVariableModel, list[dict[str, Any]]]:
    """Continue a run from its last checkpoint (``pyrovae train --resume``), extend a finished
    one to ``epochs``, or finish the final reports of a run whose training ended before they
    were written; the result is the same, bit for bit on the CPU, as a run never stopped.

    The checkpoint holds everything that decides the future: weights, optimizer and scheduler
    state, the epoch (and so the KL warm-up position), the early-stopping record, and every
    random state. A checkpoint of another pyrovae version or format, or a config.toml edited
    since, is refused.

    :param device: continue on this device instead (``train.device``).
    :param int num_threads: continue with this many CPU threads (``train.num_threads``).
        Neither changes what is computed, only where; on another device or thread count the
        numbers can differ from an uninterrupted run in the last bits.
    :returns: ``(run_dir, module, rows)`` as :func:`train` (all the run's rows).
    """
    session = _resume(run_dir, epochs, progress, log, device, num_threads, callbacks)
    return session.run_dir, session.module, session.rows


def _resume(run_dir, epochs, progress, log, device, num_threads, callbacks):
    """:func:`resume`, returning the finished :class:`Session`."""
    run_dir = Path(run_dir)
    check_target(run_dir, resume=True)  # on every rank, before any work
    recover_run(run_dir)  # what a crashed transaction left, before its files are read
    config = load_run_config(run_dir)
    state = read_checkpoint(run_dir / CHECKPOINT)
    _check_resumable(run_dir, config, state)
    moved = {key: value for key, value in (("train.device", device),
                                           ("train.num_threads", num_threads))
             if value is not None and value != _get(config, key)}
    if epochs is not None:
        moved["train.epochs"] = int(epochs)
    config = with_values(config, **moved)
    done = int(state["training"]["trainer"]["epoch"])
    reason = state["training"]["trainer"]["stop_reason"]
    finished = read_results(run_dir) is not None
    training_over = bool(reason) or config.train.epochs <= done
    if training_over and finished:
        if reason:
            raise CheckpointError(f"{run_dir} has finished: {reason}; nothing to resume")
        raise ConfigError(
            f"{run_dir} has run {done} of its {config.train.epochs} epochs: it is finished; "
            f"resume it with more than {done} epochs to extend it"
        )
    session = Session(config, progress, log, state=state, callbacks=callbacks)
    session.run_dir = run_dir
    if not session.world.is_main:
        session.run(None)
        return session
    where = [f"{key} = {value!r}" for key, value in moved.items() if key in PORTABLE]
    if where:
        session.log(f"continuing with {', '.join(where)}: the numbers can differ from an "
                    "uninterrupted run in the last bits")
    with RunDirectory(run_dir, resume=True) as run:
        try:
            session.run(run)
        except TrainingError as e:
            raise type(e)(f"{e}; {run_dir} keeps the checkpoint of epoch "
                          f"{session.last_saved}") from None
    return session


@checks.arguments(_check_fit, "pyrovae.fit")
def fit(config: Config | None, run_dir: str | os.PathLike[str] | None = None, *,
        resume: bool = False, overwrite: bool = False, epochs: int | None = None,
        device: str | None = None, num_threads: int | None = None,
        callbacks: Sequence[Callback] = (), quiet: bool = False) -> Run:
    """Train a run from Python exactly as ``pyrovae train`` does, and return it.

    ::

        import pyrovae as pv

        config = pv.load_config(overrides=["train.epochs=5"])
        run = pv.fit(config, "runs/first")           # the files and lines of pyrovae train
        run.model.evaluate(run.data.test.x)
        run = pv.fit(None, "runs/first", resume=True, epochs=10)   # continue it to 10 epochs

    :param config: a :class:`~pyrovae.config.Config` (``pv.load_config(...)``); ignored with
        ``resume``.
    :param run_dir: the run directory (default ``config.output.dir``, else
        :func:`default_run_dir`).
    :param bool resume: continue ``run_dir`` (see :func:`resume`).
    :param bool overwrite: replace a non-empty ``run_dir``.
    :param int epochs: with ``resume``, the epoch to continue to.
    :param device: with ``resume``, the device to continue on.
    :param int num_threads: with ``resume``, the CPU threads to continue with.
    :param callbacks: :class:`~pyrovae.callbacks.Callback` objects, after the run's own.
    :param bool quiet: print nothing and show no progress bar (default: print the same lines
        as the command line, and a bar on a terminal).
    :returns: the :class:`~pyrovae.runs.Run`, with the best validation epoch's weights.
    """
    log = _quiet if quiet else print
    progress = False if quiet else None
    if resume:
        if run_dir is None:
            raise ConfigError("fit(resume=True) needs the run_dir to continue")
        session = _resume(run_dir, epochs, progress, log, device, num_threads, callbacks)
    else:
        if config is None:
            raise ConfigError("fit() needs a config (pyrovae.load_config(...)), or "
                              "resume=True and a run_dir")
        if any(v is not None for v in (epochs, device, num_threads)):
            raise ConfigError("epochs, device and num_threads are set in the config of a new "
                              "run (train.epochs, ...); as arguments they apply to resume=True")
        if run_dir is not None:
            config = with_values(config, **{"output.dir": str(run_dir)})
        session = _train(config, progress, overwrite, log, callbacks)
    where = Path(session.run_dir)
    name = BEST if (where / BEST).exists() else CHECKPOINT
    return Run(where, session.config, session.module.eval(), session.dataset,
               read_checkpoint(where / name), session.device)


def _get(config, dotted):
    section, key = dotted.split(".")
    return getattr(getattr(config, section), key)


def _check_resumable(run_dir, config, state):
    """Refuse a checkpoint without training state, of another version or format, whose
    config differs from config.toml in a key a resume may not change
    (:func:`~pyrovae.checkpoint.check_config`), or whose training state is damaged
    (:func:`~pyrovae.checkpoint.check_training`)."""
    path = run_dir / CHECKPOINT
    if "training" not in state:
        raise CheckpointError(f"{path} holds no training state (format version "
                              f"{state.get('version')}); it can be evaluated but not resumed")
    if state.get("version") != VERSION or state.get("pyrovae") != __version__:
        raise CheckpointError(
            f"{path} was written by pyrovae {state.get('pyrovae', 'before 0.1.0')} (checkpoint "
            f"format {state.get('version')}); this is pyrovae {__version__} (format {VERSION}), "
            "which cannot continue it exactly; evaluate it, or start a new run"
        )
    # the same comparison as every reader's (a key the saved config lacks, added to pyrovae
    # since, is fine at its default value), with a resume's own allowance
    check_config(run_dir, config, state, path, allowed=RESUMABLE,
                 fix="a resume continues a run as it was configured (only the epochs, the "
                     "device and the thread count may change): restore those keys, or start "
                     "a new run")
    check_training(path, state)  # field by field: epoch range, optimizer, batches, rng


def _threads(t, world, log):
    """Apply ``train.num_threads`` (0: torch's default; under torchrun a share of the cores);
    more than this machine's cores is cut to the cores, with a line saying so."""
    cores = os.cpu_count() or 1
    n = t.num_threads
    if n > cores:
        log(f"train.num_threads = {n}, but this machine has {cores} cores: using {cores} "
            "(more threads only stall)")
        n = cores
    if n > 0:
        torch.set_num_threads(n)
    elif world.size > 1:
        torch.set_num_threads(distributed.threads_per_rank(world))


class _KeepBest(Callback):
    """The best epoch's weights in memory, on ranks that write no best.pt."""

    name = "keep-best"

    def __init__(self):
        self.state = None

    def on_epoch_end(self, fit):
        if fit.improved:
            self.state = {k: v.detach().clone() for k, v in fit.module.state_dict().items()}


class Session:
    """One training session of a run: built (and so checked) before the run directory is
    touched, then :meth:`run` against it (or :meth:`finish` only, for a run whose training is
    over but whose reports are missing)."""

    def __init__(self, config, progress, log, state=None, callbacks=()):
        t = config.train
        self.world, self.device = distributed.init(resolve_device(t.device))
        self.config, self.state, self.progress = config, state, progress
        self.log = log if self.world.is_main else _quiet
        _threads(t, self.world, self.log)
        pyro.set_rng_seed(t.seed)
        self.dataset = load_data(config, self.device, progress if self.world.is_main else False)
        self.module = build_model(config, self.dataset.event_shape,
                                  self.dataset.num_classes).to(self.device)
        self.module.check_data(self.dataset)
        labels = self.module.given(self.dataset.train.y)
        check_model(self.module, self.dataset.train.x[:2], None if labels is None else labels[:2])
        self.kl_lines = [site.line for site in
                         kl_report(self.module, t.objective, self.dataset.train.x[:2],
                                   None if self.dataset.train.y is None
                                   else self.dataset.train.y[:2])]
        self.keep_best = _KeepBest()
        self.callbacks = self._callbacks(callbacks)
        self.trainer = Trainer(
            self.module,
            t.objective,
            t.optimizer,
            t.lr,
            kl_weight=config.model.kl_weight,
            kl_warmup_epochs=config.model.kl_warmup_epochs,
            progress=progress if self.world.is_main else False,
            divergence_factor=t.divergence_factor,
            scheduler=t.scheduler,
            patience=t.early_stopping["patience"],
            eval_every=t.eval_every,
            world=self.world,
            seed=t.seed,
            compile=t.compile,
            clip_grad_norm=t.clip_grad_norm,
            clip_grad_value=t.clip_grad_value,
        )
        self.batches = self.dataset.batches(t.batch_size, t.seed,
                                            labelled_every=config.data.labelled_every,
                                            labelled_batch=config.data.labelled_batch)
        self.fit = Fit(self.trainer, self.dataset, t.epochs, config=config,
                       settings=config_to_dict(config), batches=self.batches)
        if state is not None:
            self.module.load_state_dict(state["state_dict"])
            self.trainer.load_state_dict(state["training"]["trainer"])
            self.batches.load_state_dict(state["training"]["batches"])
        self.last_saved = self.trainer.epoch  # the epoch of the run's last checkpoint
        self.run_dir = None  # set by train/resume: the run directory (also on other ranks)

    def _callbacks(self, extra):
        """The run's callbacks, in order: the metrics file, the checkpoints (which commit the
        run) and the figures (drawn in the final reports, before the loggers that follow log
        them), TensorBoard (``output.tensorboard``), those ``train.callbacks`` names, the
        caller's own. Ranks other than 0 keep the best weights in memory and write nothing."""
        if not self.world.is_main:
            return [self.keep_best]
        named = [CALLBACKS.resolve(component) for component in self.config.train.callbacks]
        board = [TensorBoard()] if self.config.output.tensorboard else []
        return [MetricsFile(), _Saved(self), Figures(), *board, *named, *extra]

    @property
    def rows(self):
        return self.fit.rows

    def run(self, run):
        """Train, writing into ``run`` (a :class:`~pyrovae.rundir.RunDirectory`; ``None`` on a
        rank other than 0, which computes its share and writes nothing), then finish the
        reports. Returns every epoch row of the run."""
        config, t = self.config, self.config.train
        self.fit.run = run
        if run is not None:  # a resume's config.toml is part of its first transaction
            with staging(self.fit):
                write_config(run.path, config, comments=self.kl_lines)
        for line in self.kl_lines:
            self.log(line)
        done = self.trainer.epoch
        if self.state is not None:
            if run is not None:
                self.fit.rows[:] = [r for r in read_metrics(run.path) if r.get("epoch", 0) <= done]
            rng.set_state(self.state["training"]["rng"])
        over = self.state is not None and (self.trainer.stop_reason or t.epochs <= done)
        if over:
            self.log(f"finishing the reports of {run.path if run else config.output.dir}: "
                     f"training ended after epoch {done}")
        else:
            if self.state is not None and run is not None:
                self.log(f"resuming {run.path} after epoch {done} of {t.epochs}")
            self.log(self._training_line())
            self.trainer.fit(self.dataset, t.epochs, t.batch_size, t.seed, t.eval_batch_size,
                             t.eval_samples, batches=self.batches, callbacks=self.callbacks,
                             state=self.fit, check_data=False)
            if self.trainer.stop_reason:
                self.log(self.trainer.stop_reason)
            if t.epochs == 0 and run is not None:  # still leave a loadable run
                Checkpoints.save(self.fit, 0, improved=False)
        self.finish(run)
        return self.fit.rows

    def _training_line(self):
        d, t = self.dataset, self.config.train
        ranks = f" on {self.world.size} ranks" if self.world.size > 1 else ""
        epochs = plural(t.epochs, "epoch")
        kind = self.config.model.kind
        return (f"training {article(kind)} on {d.name} ({len(d.train)} train, "
                f"{len(d.valid)} valid, {len(d.test)} test) for {epochs} on "
                f"{self.device}{ranks}")

    def finish(self, run):
        """The final reports (:func:`pyrovae.training.reports.finish`): the test evaluation
        and bound, the figures, then ``results.json``, last."""
        reports.finish(self, run)

    def results(self):
        """The run's summary (:func:`pyrovae.training.reports.results`)."""
        return reports.results(self)


class _Saved(Checkpoints):
    """The run's checkpoints, remembering the epoch of the last one (for error messages)."""

    def __init__(self, session):
        self.session = session

    def on_epoch_end(self, fit):
        super().on_epoch_end(fit)
        self.session.last_saved = fit.row["epoch"]
