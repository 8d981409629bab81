"""The SVI loop.

:class:`Trainer` minimizes a Pyro ELBO by stochastic gradients: for each batch it evaluates
``objective.differentiable_loss(model, guide, x)`` (the Monte Carlo or analytic −ELBO, a torch
scalar), back-propagates and steps a torch optimizer that was given the parameters once. It knows
nothing about priors, likelihoods, labels or files: it talks to the model through
:class:`~pyrovae.models.base.LatentVariableModel`, gets its batches from the data set, and leaves
every side effect to its callbacks (:mod:`pyrovae.callbacks`). Per epoch it applies the KL
warm-up (β is passed to the loss), watches for divergence (:mod:`pyrovae.divergence`), validates
every ``eval_every`` epochs, keeps the best validation ELBO and steps the learning-rate schedule.

Its arguments are checked where they enter (:mod:`pyrovae.checks`): the constructor's options,
and :meth:`Trainer.fit`'s arguments and data set (tensors of the model's shape, dtype and device,
labels in range, the likelihood's support, sizes against memory) before the first step; the
step itself adds no checks.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pyro
import torch

from .. import checks, distributed
from ..callbacks.base import Callback, Fit, callback_name
from ..callbacks.early_stopping import EarlyStopping
from ..callbacks.progress import ProgressBar
from ..compiled import CompiledLoss
from ..data.base import DataSet
from ..divergence import DivergenceMonitor
from ..errors import CallbackError, ConfigError, DataError, PyroVAEError
from ..infer.objectives import OBJECTIVES
from ..memory import require
from ..models.base import LatentVariableModel
from ..models.guards import unchecked
from ..models.user import check_model
from ..noise import KeyedNoise
from ..optim import OPTIMIZERS
from ..params import OwnParameters
from ..schedulers import SCHEDULERS

if TYPE_CHECKING:
    from ..data.batcher import Batcher
    from ..data.labels import SemiSupervisedBatcher
    from ..distributed import World

__all__ = ["Trainer", "kl_weight_at"]

#: numpy (which Pyro seeds) takes seeds in [0, 2**32)
MAX_SEED = 2**32 - 1


def _check_callbacks(callbacks, where):
    """``callbacks`` as a list of :class:`~pyrovae.callbacks.Callback` objects."""
    if isinstance(callbacks, Callback) or isinstance(callbacks, (str, bytes, dict)) or not (
            isinstance(callbacks, Iterable)):
        raise ConfigError(f"{where}: callbacks must be a list of pyrovae.Callback objects, got "
                          f"{checks.got(callbacks)}"
                          + ("; put it in a list: callbacks=[...]"
                             if isinstance(callbacks, Callback) else ""))
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise ConfigError(f"{where}: callbacks must be pyrovae.Callback objects (a subclass "
                              f"defining on_epoch_end, ...), got {checks.got(callback)}")
    return callbacks


def _check_spec(value, name, where, ok):
    """A component argument: a name, a table, a :class:`~pyrovae.config.Component`, or an
    object for which ``ok(value)`` holds."""
    if isinstance(value, (str, dict)) or (hasattr(value, "name") and hasattr(value, "options")
                                         and not callable(value)):
        return value
    if not ok(value):
        raise ConfigError(f"{where}: {name} must be the name of a registered {name} (a str), "
                          f"a {{\"name\": ..., **options}} table or {ok.__doc__}, got "
                          f"{checks.got(value)}")
    return value


@contextlib.contextmanager
def _refused(name):
    """A component whose constructor refuses its options with a ValueError or TypeError
    (torch's ``SGD(momentum=-1)``): one line naming it."""
    try:
        yield
    except PyroVAEError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"Trainer: {name}: {' '.join(str(e).split())}") from e


def _objective_object(value):
    """a Pyro ELBO object"""
    return callable(getattr(value, "differentiable_loss", None))


def _optimizer_object(value):
    """a torch.optim.Optimizer"""
    return isinstance(value, torch.optim.Optimizer)


def _scheduler_object(value):
    """a scheduler object (pyrovae.schedulers)"""
    return callable(getattr(value, "step", None)) and hasattr(value, "lr")


def kl_weight_at(epoch, beta, warmup_epochs):
    """β · min(1, (epoch + 1) / warmup_epochs), epochs counted from 0: a linear KL warm-up that
    reaches β in the last warm-up epoch. (It starts at β / warmup_epochs rather than 0, so the
    first epoch already trains the encoder's KL term a little.)"""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, (epoch + 1) / warmup_epochs)


class Trainer:
    """Stochastic variational inference on a model kind.

    :param module: a :class:`~pyrovae.models.base.LatentVariableModel` (e.g. a ``VAE``).
    :param objective: an objective name, table or Pyro ELBO object (default ``"trace"``).
    :param optimizer: an optimizer name, table or ``torch.optim`` object (default ``"adam"``).
    :param float lr: learning rate (default ``1e-3``).
    :param float kl_weight: β on the KL term (default 1).
    :param int kl_warmup_epochs: epochs of linear warm-up of β (default 0).
    :param bool progress: show a tqdm bar (:class:`~pyrovae.callbacks.ProgressBar`; default:
        when stderr is a terminal; ``False``: never).
    :param float divergence_factor: stop when a step's loss exceeds its running level by this
        factor (default 1000; 0: stop on non-finite values only), see
        :mod:`pyrovae.divergence`.
    :param scheduler: a learning-rate schedule: name, table or object
        (:mod:`pyrovae.schedulers`; default ``"none"``), stepped after every epoch with the
        validation ELBO.
    :param int patience: stop when the validation ELBO has not improved for this many epochs
        (:class:`~pyrovae.callbacks.EarlyStopping`; default 0: never).
    :param int eval_every: validate every this many epochs, and after the last (default 1).
    :param world: the data-parallel ranks (:class:`~pyrovae.distributed.World`; default the
        process's own, one rank unless launched by torchrun).
    :param int seed: keys the guide's noise at every step (default 0; :meth:`fit` sets it).
    :param float clip_grad_norm: rescale the (summed) gradient to at most this global L2 norm
        before each step (``torch.nn.utils.clip_grad_norm_``; default 0: off).
    :param float clip_grad_value: then clamp every gradient entry to [−v, v]
        (``torch.nn.utils.clip_grad_value_``; default 0: off). Maaløe et al.'s ADGM code does
        both, with a norm of 5 and a value of 1.
    :param bool compile: run the step's loss and gradient as a traced, compiled graph
        (:mod:`pyrovae.compiled`; default ``False``).
    :param callbacks: :class:`~pyrovae.callbacks.Callback` objects called by :meth:`fit`, after
        the built-in ones (early stopping, the progress bar) in the order given.
    :param bool flush_denormal: flush subnormal floats to zero on the CPU while :meth:`fit`
        runs (``torch.set_flush_denormal``; turned off again when it returns; default
        ``True``). As training
        goes on, Adam's moment estimates and some gradients sink into the subnormal range,
        where x86 arithmetic is many times slower: an M2 run on MNIST slowed from 11 s to 36 s
        per epoch over 50 epochs, and a digits run from 0.15 s to 0.38 s per epoch over 14,
        which stayed at 0.14–0.16 s with flushing. Values below 1.2e-38 become 0. The setting
        is per thread and torch's CPU worker threads inherit it when they start, so the
        command line sets it for its whole process before any work; call
        ``torch.set_flush_denormal(True)`` early in your own scripts to have it everywhere.
    """

    def __init__(
        self,
        module: LatentVariableModel,
        objective: Any = "trace",
        optimizer: Any = "adam",
        lr: float = 1e-3,
        kl_weight: float = 1.0,
        kl_warmup_epochs: int = 0,
        progress: bool | None = None,
        divergence_factor: float = 1000.0,
        scheduler: Any = "none",
        patience: int = 0,
        eval_every: int = 1,
        world: World | None = None,
        seed: int = 0,
        compile: bool = False,
        flush_denormal: bool = True,
        callbacks: Sequence[Callback] = (),
        clip_grad_norm: float = 0.0,
        clip_grad_value: float = 0.0,
    ) -> None:
        where = "Trainer"
        if not isinstance(module, LatentVariableModel):
            hint = ("; wrap a module of your own with pyrovae.as_model(module, event_shape)"
                    if callable(getattr(module, "model", None)) else
                    "; build one with e.g. pyrovae.VAE.build(event_shape)")
            raise ConfigError(f"{where}: module must be a pyrovae model (a "
                              f"LatentVariableModel), got {checks.got(module)}{hint}")
        _check_spec(objective, "objective", where, _objective_object)
        _check_spec(optimizer, "optimizer", where, _optimizer_object)
        _check_spec(scheduler, "scheduler", where, _scheduler_object)
        lr = checks.number(lr, "lr", where, minimum=0.0)  # (0: gradients without steps)
        kl_weight = checks.number(kl_weight, "kl_weight", where, minimum=0.0)
        kl_warmup_epochs = checks.integer(kl_warmup_epochs, "kl_warmup_epochs", where, minimum=0)
        checks.boolean(progress, "progress", where, none=True)
        divergence_factor = checks.number(divergence_factor, "divergence_factor", where,
                                          minimum=0.0)
        patience = checks.integer(patience, "patience", where, minimum=0)
        eval_every = checks.integer(eval_every, "eval_every", where, minimum=1)
        seed = checks.integer(seed, "seed", where, minimum=0, maximum=MAX_SEED)
        checks.boolean(compile, "compile", where)
        checks.boolean(flush_denormal, "flush_denormal", where)
        callbacks = _check_callbacks(callbacks, where)
        if world is not None and not callable(getattr(world, "bounds", None)):
            raise ConfigError(f"{where}: world must be a pyrovae.distributed.World or None, got "
                              f"{checks.got(world)}")
        self.flush_denormal = flush_denormal
        for name, value in (("clip_grad_norm", clip_grad_norm),
                            ("clip_grad_value", clip_grad_value)):
            if isinstance(value, bool) or not (isinstance(value, (int, float))
                                               and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{where}: {name} must be a finite number ≥ 0 (0: off), got "
                                  f"{value!r}")
        self.clip_grad_norm, self.clip_grad_value = float(clip_grad_norm), float(clip_grad_value)
        self.module = module
        self.world = distributed.current() if world is None else world
        self.seed = int(seed)  # keys the guide's noise (:mod:`pyrovae.noise`), with the step
        with _refused("objective"):
            self.objective = OBJECTIVES.resolve(
                objective, {"max_plate_nesting": module.max_plate_nesting}
            )
        with _refused("optimizer"):
            self.optimizer = OPTIMIZERS.resolve(
                optimizer, {"params": list(module.parameters()), "lr": lr}
            )
        with _refused("scheduler"):
            self.scheduler = SCHEDULERS.resolve(scheduler, {"optimizer": self.optimizer})
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.compiled = None
        if compile:
            self.compiled = CompiledLoss(module, self.objective)
            self._names = {id(p): name for name, p in module.named_parameters()}
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.patience = int(patience)
        self.eval_every = int(eval_every)
        self.progress = progress
        self.callbacks = callbacks
        self.monitor = DivergenceMonitor(divergence_factor)
        # a sync per step costs nothing on the CPU and stops a bad step before the optimizer
        # applies it; on an accelerator the monitor is read every 100 steps and per epoch
        self.check_every = None
        self._steps = None  # steps in the current epoch, for the divergence report
        self.epoch = 0
        self.global_step = 0  # steps since the run began: the noise key
        self.best_elbo = -math.inf
        self.best_epoch = 0
        self.seconds = 0.0  # training wall time, summed over resumes
        self.stop_reason = None

    # -- one step, one epoch ----------------------------------------------------------------

    def step(self, x: torch.Tensor, y: torch.Tensor | None = None, kl_weight: float = 1.0,
             index: int = 0) -> torch.Tensor:
        """One SVI step on a (global) batch; returns the loss tensor (summed over the batch,
        detached).

        The step never waits on the device (the divergence monitor is read every
        :attr:`check_every` steps): the objective computes the differentiable −ELBO only, Pyro's
        per-step validation is off (the data were checked when loaded), and the guide's noise
        is keyed by (seed, step, example) (:mod:`pyrovae.noise`). With several ranks each
        computes its shard's loss and gradient and one all-reduce sums them
        (:mod:`pyrovae.distributed`).

        :param int index: the step's position in the epoch (for the divergence report).
        """
        world, total = self.world, x.shape[0]
        start, stop = world.bounds(total)
        empty = start == stop  # more ranks than examples: this one computes a zero gradient
        if world.size > 1:
            start, stop = (0, 1) if empty else (start, stop)
            x, y = x[start:stop], None if y is None else y[start:stop]
        self.optimizer.zero_grad(set_to_none=True)
        with pyro.validation_enabled(False):
            if self.compiled is None:
                with OwnParameters(), KeyedNoise(self.seed, self.global_step, start, total):
                    loss = self.module.loss(self.objective, x, y, kl_weight=kl_weight)
                if empty:  # (a Pyro plate cannot be empty; the same parameters get gradients)
                    loss = loss * 0.0
                loss.backward()
            else:
                loss, grads, grad_norm = self.compiled(x, y, kl_weight, self.seed,
                                                       self.global_step, start, total)
                for p in self.params:
                    g = grads.get(self._names[id(p)])
                    p.grad = None if g is None else (g * 0.0 if empty else g)
                if empty:
                    loss = loss * 0.0
        grads = [p.grad for p in self.params if p.grad is not None]
        loss = loss.detach()
        if self.compiled is None or world.size > 1:  # the norm of the summed gradient
            world.all_sum_([loss, *grads])
            grad_norm = (torch.stack(torch._foreach_norm(grads)).sum() if grads
                         else loss.new_zeros(()))
        if self.check_every is None:
            self.check_every = 1 if loss.device.type == "cpu" else 100
        if self.check_every == 1:
            self.monitor.observe_now(loss / total, grad_norm, index, self.epoch + 1, self._steps)
        else:
            self.monitor.observe(loss / total, grad_norm, index)
            if (index + 1) % self.check_every == 0:
                self.monitor.check(self.epoch + 1, self._steps)
        self._clip()
        self.optimizer.step()
        self.global_step += 1
        return loss

    def _clip(self):
        """Clip the gradients as configured: device-side, no host synchronization."""
        if self.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip_grad_norm, foreach=True)
        if self.clip_grad_value:
            torch.nn.utils.clip_grad_value_(self.params, self.clip_grad_value, foreach=True)

    def train_epoch(self, batches: Batcher | SemiSupervisedBatcher,
                    on_step: Callable[[torch.Tensor], object] | None = None) -> float:
        """One pass over ``batches``; returns the mean training loss in nats per example.

        :param on_step: called as ``on_step(loss)`` after every step (the callbacks that
            define ``on_step_end``).
        :raises TrainingError: at the first diverging step."""
        if not (isinstance(batches, Iterable) and hasattr(batches, "__len__")):
            raise ConfigError("Trainer.train_epoch: batches must be a Batcher "
                              f"(dataset.batches(batch_size, seed)), got {checks.got(batches)}")
        checks.callable_or_none(on_step, "on_step", "Trainer.train_epoch")
        self.module.train()
        weight = kl_weight_at(self.epoch, self.kl_weight, self.kl_warmup_epochs)
        self._steps = len(batches)
        total = None
        count = 0
        with warnings.catch_warnings():
            # Pyro warns "Encountered NaN" on every bad step; the monitor reports it once
            warnings.filterwarnings("ignore", message="Encountered NaN")
            for index, (x, y) in enumerate(batches):
                loss = self.step(x, y, weight, index)
                total = loss if total is None else total + loss  # stays on the device: no sync
                count += x.shape[0]
                if on_step is not None:
                    on_step(loss)
        self.monitor.check(self.epoch + 1, self._steps)
        self.monitor.end_epoch()
        self.epoch += 1
        return total.item() / max(count, 1)

    # -- the loop ---------------------------------------------------------------------------

    def fit(
        self,
        dataset: DataSet,
        epochs: int,
        batch_size: int = 128,
        seed: int = 0,
        eval_batch_size: int = 1000,
        eval_samples: int = 1,
        on_epoch: Callable[[dict[str, Any], bool], object] | None = None,
        batches: Batcher | SemiSupervisedBatcher | None = None,
        callbacks: Iterable[Callback] = (),
        state: Fit | None = None,
        check_data: bool = True,
    ) -> list[dict[str, Any]]:
        """Train until epoch ``epochs`` (counting the epochs already done, so a resumed trainer
        continues where it stopped), validating every ``eval_every`` epochs and after the last;
        then keep the best validation ELBO, step the scheduler and call the callbacks.

        The data are checked against the model first (``module.check_data``: shapes, NaN,
        the likelihood's support), and its programs traced once on two examples
        (:func:`~pyrovae.models.user.check_model`), as ``pyrovae train`` does.

        :param dataset: a :class:`~pyrovae.data.DataSet`.
        :param on_epoch: called as ``on_epoch(row, improved)`` after every epoch, with the
            epoch's metrics and whether its validation ELBO is the best so far (a shorthand for
            a callback's ``on_epoch_end``).
        :param batches: the training batches (default ``dataset.batches(batch_size, seed)``);
            pass them to save and restore their random state.
        :param callbacks: more callbacks for this call, after the trainer's own.
        :param state: the :class:`~pyrovae.callbacks.Fit` to run with (a run directory's
            session passes its own, with the run and its earlier rows); default a new one.
        :param bool check_data: check the data against the model first (default ``True``; a
            session checked them before writing anything).
        :returns: the list of per-epoch metric rows of this call.
        """
        self._check_fit(dataset, epochs, batch_size, seed, eval_batch_size, eval_samples,
                        on_epoch, batches, callbacks, state, check_data)
        if check_data:
            self.module.check_data(dataset)
            labels = self.module.given(dataset.train.y)
            check_model(self.module, dataset.train.x[:2], None if labels is None else labels[:2])
        if batches is None:
            batches = dataset.batches(batch_size, seed)
        self.seed = int(seed)
        fit = state if state is not None else Fit(self, dataset, epochs)
        fit.trainer, fit.dataset, fit.epochs, fit.batches = self, dataset, epochs, batches
        everyone = self._callbacks(callbacks, on_epoch)
        stepping = [c for c in everyone if callable(getattr(c, "on_step_end", None))]
        on_step = None
        if stepping:
            def on_step(loss):
                for callback in stepping:
                    _call(callback, "on_step_end", fit, loss)
        rows = []
        with self._flushing():
            try:
                for callback in everyone:
                    _call(callback, "on_fit_start", fit)
                while self.epoch < epochs and self.stop_reason is None:
                    row, improved = self._epoch(dataset, epochs, batches, eval_batch_size,
                                                eval_samples, on_step)
                    rows.append(row)
                    fit.rows.append(row)
                    fit.row, fit.improved = row, improved
                    for callback in everyone:
                        _call(callback, "on_epoch_end", fit)
            except BaseException as e:
                fit.error = e
                raise
            finally:
                for callback in everyone:
                    try:
                        _call(callback, "on_fit_end", fit)
                    except Exception:
                        if fit.error is None:
                            raise  # otherwise the first error is the one to report
        return rows

    def _check_fit(self, dataset, epochs, batch_size, seed, eval_batch_size, eval_samples,
                   on_epoch, batches, callbacks, state, check_data):
        """The arguments of :meth:`fit`, and the data set's tensors against the model (type,
        shape, dtype, device; the labels' values with ``check_data``), sizes against memory."""
        where = "Trainer.fit"
        if not isinstance(dataset, DataSet):
            hint = ("; wrap tensors in one: pyrovae.data.DataSet(name, Split(x_train), "
                    "Split(x_valid), Split(x_test), event_shape), Split from pyrovae.data.base"
                    if isinstance(dataset, (torch.Tensor, tuple, list)) else "")
            raise DataError(f"{where}: dataset must be a pyrovae DataSet (pyrovae.load_dataset(...)), "
                            f"got {checks.got(dataset)}{hint}")
        checks.integer(epochs, "epochs", where, minimum=0)  # (0: a run that only reports)
        batch_size = checks.integer(batch_size, "batch_size", where, minimum=1)
        checks.integer(seed, "seed", where, minimum=0, maximum=MAX_SEED)
        eval_batch_size = checks.integer(eval_batch_size, "eval_batch_size", where, minimum=1)
        eval_samples = checks.integer(eval_samples, "eval_samples", where, minimum=1)
        checks.callable_or_none(on_epoch, "on_epoch", where)
        if batches is not None and not (isinstance(batches, Iterable)
                                        and hasattr(batches, "__len__")):
            raise ConfigError(f"{where}: batches must be a Batcher (dataset.batches(batch_size, "
                              f"seed)) or None, got {checks.got(batches)}")
        _check_callbacks(callbacks, where)
        if state is not None and not isinstance(state, Fit):
            raise ConfigError(f"{where}: state must be a pyrovae.callbacks.Fit or None, got "
                              f"{checks.got(state)}")
        checks.boolean(check_data, "check_data", where)
        module = self.module
        shape = getattr(module, "event_shape", None)
        param = next(module.parameters(), None)
        dtype = None if param is None else param.dtype
        device = module._device()
        for name in ("train", "valid", "test"):
            split = dataset.split(name)
            x = checks.batch(split.x, f"dataset.{name}.x", where, event_shape=shape, dtype=dtype,
                             device=device)
            if name != "test" and x.shape[0] == 0:
                raise DataError(f"{where}: the {name} split of {dataset.name} is empty; "
                                "training needs at least one example in train and valid")
            if split.y is not None and check_data:
                checks.labels(split.y, f"dataset.{name}.y", where, n=x.shape[0],
                              num_classes=dataset.num_classes, device=split.x.device)
        numel = math.prod(dataset.train.x.shape[1:])
        require(min(batch_size, len(dataset.train)) * numel * dataset.train.x.element_size() * 4,
                f"{where}: batch_size = {batch_size}", "lower batch_size",
                device=dataset.train.x.device)
        require(min(eval_batch_size, len(dataset.valid)) * eval_samples * numel * 4,
                f"{where}: eval_batch_size = {eval_batch_size} with eval_samples = "
                f"{eval_samples}", "lower eval_batch_size or eval_samples",
                device=dataset.valid.x.device)

    def _callbacks(self, extra, on_epoch):
        """The callbacks of one :meth:`fit`: early stopping, the trainer's own, this call's,
        ``on_epoch``, the progress bar (last: its postfix shows the epoch as the others left
        it)."""
        everyone = []
        if self.patience:
            everyone.append(EarlyStopping(self.patience))
        everyone += [*self.callbacks, *extra]
        if on_epoch is not None:
            everyone.append(_EpochFunction(on_epoch))
        if self.progress is not False and self.world.is_main:
            everyone.append(ProgressBar(self.progress))
        return everyone

    @contextlib.contextmanager
    def _flushing(self):
        """``torch.set_flush_denormal(True)`` while fitting (see ``flush_denormal``)."""
        flushed = self.flush_denormal and torch.set_flush_denormal(True)  # False: unsupported
        try:
            yield
        finally:
            if flushed:
                torch.set_flush_denormal(False)

    def _epoch(self, dataset, epochs, batches, eval_batch_size, eval_samples, on_step):
        """One epoch and its validation: ``(row, improved)``."""
        lr = self.scheduler.lr
        start = time.perf_counter()
        train_loss = self.train_epoch(batches, on_step)
        seconds = time.perf_counter() - start
        self.seconds += seconds
        row = {"epoch": self.epoch, "train_loss": train_loss,
               "kl_weight": kl_weight_at(self.epoch - 1, self.kl_weight, self.kl_warmup_epochs),
               "lr": lr}
        valid = None
        if self.epoch % self.eval_every == 0 or self.epoch == epochs:
            self.module.eval()
            with unchecked():  # checked when fit began
                valid = self.module.evaluate(dataset.valid.x, dataset.valid.y, eval_batch_size,
                                             eval_samples, world=self.world)
            row.update((f"valid_{k}", v) for k, v in valid.items()
                       if not k.endswith("_stderr") and k != "num_examples"
                       and not isinstance(v, dict))  # per-site KLs: evaluate --json
        row["epoch_seconds"] = seconds
        improved = valid is not None and valid["elbo"] > self.best_elbo
        if improved:
            self.best_elbo, self.best_epoch = valid["elbo"], self.epoch
        self.scheduler.step(None if valid is None else valid["elbo"])
        return row, improved

    # -- resume -----------------------------------------------------------------------------

    def state_dict(self):
        """Everything of the trainer that decides the future (with the model's weights, the
        batches' and the global random states, a run continues bit for bit)."""
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "best_elbo": self.best_elbo,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
            "stop_reason": self.stop_reason,
            "divergence_level": self.monitor.level,
        }

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.best_elbo = float(state["best_elbo"])
        self.best_epoch = int(state["best_epoch"])
        self.seconds = float(state["seconds"])
        self.stop_reason = state["stop_reason"]
        self.monitor.level = state["divergence_level"]


class _EpochFunction(Callback):
    """``Trainer.fit(on_epoch=f)``: ``f(row, improved)`` after every epoch."""

    def __init__(self, function):
        self.function = function
        self.name = getattr(function, "__name__", "on_epoch")

    def on_epoch_end(self, fit):
        self.function(fit.row, fit.improved)


def _call(callback, hook, *args):
    """``callback.hook(*args)``; an error that is not already one of pyrovae's one-line errors
    becomes a :class:`~pyrovae.errors.CallbackError` naming the callback and the hook."""
    try:
        getattr(callback, hook)(*args)
    except PyroVAEError:
        raise
    except Exception as e:
        fit = args[0]
        when = f"after epoch {fit.trainer.epoch}" if fit.trainer.epoch else "before epoch 1"
        detail = " ".join(str(e).split()) or type(e).__name__
        raise CallbackError(f"callback {callback_name(callback)!r} failed in {hook} {when}: "
                            f"{type(e).__name__}: {detail}") from e
