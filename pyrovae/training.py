"""The SVI loop and the ``train`` entry point that writes a run directory.

:class:`Trainer` minimizes a Pyro ELBO by stochastic gradients: for each batch it evaluates
``objective.differentiable_loss(model, guide, x)`` (the Monte Carlo or analytic −ELBO, a torch
scalar), back-propagates and steps a torch optimizer that was given the parameters once. It knows
nothing about priors, likelihoods or labels: it talks to the model through
:class:`~pyrovae.models.base.LatentVariableModel` and gets its batches from the data set. Per
epoch it applies the KL warm-up (β is passed to the loss), watches for divergence
(:mod:`pyrovae.divergence`), validates every ``eval_every`` epochs, steps the learning-rate
schedule and keeps the best validation ELBO for early stopping.

:func:`train` writes a new run directory as a transaction; :func:`resume` continues one, bit for
bit, from the training state its checkpoint holds.
"""

import math
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import pyro
import torch
from tqdm.auto import tqdm

from .config import Config
from .data.from_config import load_data
from .device import resolve_device
from .divergence import DivergenceMonitor, TrainingError
from .errors import ConfigError
from .infer.analytic import kl_report
from .infer.objectives import OBJECTIVES
from .models.base import build_model
from .models.user import check_model
from .noise import KeyedNoise
from .params import OwnParameters
from .optim import OPTIMIZERS
from .plots import as_images, save_grid, save_reconstructions
from .runs import (
    CONFIG,
    RUN_FILES,
    atomic_write,
    save_checkpoint,
    write_config,
    write_metrics,
)

__all__ = [
    "Trainer",
    "TrainingError",
    "load_data",
    "record_kl_report",
    "resolve_device",
    "train",
]


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
    :param bool progress: show a tqdm bar (default: when stderr is a terminal).
    :param float divergence_factor: stop when a step's loss exceeds its running level by this
        factor (default 1000; 0: stop on non-finite values only), see
        :mod:`pyrovae.divergence`.
    :param scheduler: a learning-rate schedule: name, table or object
        (:mod:`pyrovae.schedulers`; default ``"none"``), stepped after every epoch with the
        validation ELBO.
    :param int patience: stop when the validation ELBO has not improved for this many epochs
        (default 0: never).
    :param int eval_every: validate every this many epochs, and after the last (default 1).
    :param world: the data-parallel ranks (:class:`~pyrovae.distributed.World`; default the
        process's own, one rank unless launched by torchrun).
    :param int seed: keys the guide's noise at every step (default 0; :meth:`fit` sets it).
    :param bool compile: run the step's loss and gradient as a traced, compiled graph
        (:mod:`pyrovae.compiled`; default ``False``).
    :param bool flush_denormal: flush subnormal floats to zero on the CPU
        (``torch.set_flush_denormal``, for the whole process; default ``True``). As training
        goes on, Adam's moment estimates and some gradients sink into the subnormal range,
        where x86 arithmetic is many times slower: an M2 run on MNIST slowed from 11 s to 36 s
        per epoch over 50 epochs, and a digits run from 0.15 s to 0.38 s per epoch over 14,
        which stayed at 0.14–0.16 s with flushing. Values below 1.2e-38 become 0. The setting
        is per thread and torch's CPU worker threads inherit it when they start, so the
        command line sets it before any work; set it early in your own scripts too.
    """

    def __init__(
        self,
        module,
        objective="trace",
        optimizer="adam",
        lr=1e-3,
        kl_weight=1.0,
        kl_warmup_epochs=0,
        progress=None,
        divergence_factor=1000.0,
        scheduler="none",
        patience=0,
        eval_every=1,
        world=None,
        seed=0,
        compile=False,
        flush_denormal=True,
    ):
        from . import distributed
        from .schedulers import SCHEDULERS

        if flush_denormal:
            torch.set_flush_denormal(True)  # a no-op (returning False) where unsupported
        self.module = module
        self.world = distributed.current() if world is None else world
        self.seed = int(seed)  # keys the guide's noise (:mod:`pyrovae.noise`), with the step
        self.objective = OBJECTIVES.resolve(
            objective, {"max_plate_nesting": module.max_plate_nesting}
        )
        self.optimizer = OPTIMIZERS.resolve(
            optimizer, {"params": list(module.parameters()), "lr": lr}
        )
        self.scheduler = SCHEDULERS.resolve(scheduler, {"optimizer": self.optimizer})
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.compiled = None
        if compile:
            from .compiled import CompiledLoss

            self.compiled = CompiledLoss(module, self.objective)
            self._names = {id(p): name for name, p in module.named_parameters()}
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.patience = int(patience)
        self.eval_every = int(eval_every)
        self.progress = sys.stderr.isatty() if progress is None else progress
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

    def step(self, x, y=None, kl_weight=1.0, index=0):
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
        self.optimizer.step()
        self.global_step += 1
        return loss

    def train_epoch(self, batches, bar=None):
        """One pass over ``batches``; returns the mean training loss in nats per example.

        Raises :class:`~pyrovae.divergence.TrainingError` at the first diverging step."""
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
                if bar is not None:
                    bar.update(1)
        self.monitor.check(self.epoch + 1, self._steps)
        self.monitor.end_epoch()
        self.epoch += 1
        return total.item() / max(count, 1)

    # -- the loop ---------------------------------------------------------------------------

    def fit(
        self,
        dataset,
        epochs,
        batch_size=128,
        seed=0,
        eval_batch_size=1000,
        eval_samples=1,
        on_epoch=None,
        batches=None,
    ):
        """Train until epoch ``epochs`` (counting the epochs already done, so a resumed trainer
        continues where it stopped), validating every ``eval_every`` epochs and after the last;
        then step the scheduler, keep the best validation ELBO, and stop early after
        ``patience`` epochs without improvement.

        :param dataset: a :class:`~pyrovae.data.DataSet`.
        :param on_epoch: called as ``on_epoch(row, improved)`` after every epoch, with the
            epoch's metrics and whether its validation ELBO is the best so far.
        :param batches: the training batches (default ``dataset.batches(batch_size, seed)``);
            pass them to save and restore their random state.
        :returns: the list of per-epoch metric rows of this call.
        """
        if batches is None:
            batches = dataset.batches(batch_size, seed)
        self.seed = int(seed)
        rows = []
        bar = tqdm(
            total=max(0, epochs - self.epoch) * len(batches),
            disable=not self.progress,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
        )
        with bar:
            while self.epoch < epochs and self.stop_reason is None:
                lr = self.scheduler.lr
                start = time.perf_counter()
                train_loss = self.train_epoch(batches, bar)
                seconds = time.perf_counter() - start
                self.seconds += seconds
                row = {"epoch": self.epoch, "train_loss": train_loss,
                       "kl_weight": kl_weight_at(self.epoch - 1, self.kl_weight,
                                                 self.kl_warmup_epochs), "lr": lr}
                valid = None
                if self.epoch % self.eval_every == 0 or self.epoch == epochs:
                    self.module.eval()
                    valid = self.module.evaluate(
                        dataset.valid.x, dataset.valid.y, eval_batch_size, eval_samples,
                        world=self.world,
                    )
                    row.update((f"valid_{k}", v) for k, v in valid.items()
                               if not k.endswith("_stderr") and k != "num_examples"
                               and not isinstance(v, dict))  # per-site KLs: evaluate --json
                    bar.set_postfix(loss=f"{train_loss:.2f}", valid_elbo=f"{valid['elbo']:.2f}")
                row["epoch_seconds"] = seconds
                improved = valid is not None and valid["elbo"] > self.best_elbo
                if improved:
                    self.best_elbo, self.best_epoch = valid["elbo"], self.epoch
                self.scheduler.step(None if valid is None else valid["elbo"])
                if self.patience and self.epoch - self.best_epoch >= self.patience:
                    self.stop_reason = (
                        f"stopped early after epoch {self.epoch}: the validation ELBO has not "
                        f"improved for {self.epoch - self.best_epoch} epochs (best "
                        f"{self.best_elbo:.4f} at epoch {self.best_epoch}, patience "
                        f"{self.patience})"
                    )
                rows.append(row)
                if on_epoch is not None:
                    on_epoch(row, improved)
        return rows

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


def default_run_dir(config):
    from .data.arrays import is_array_file

    from .plugins import short_name

    name = Path(config.data.name).stem if is_array_file(config.data.name) else None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name or config.data.name}-{short_name(config.model.kind)}-{stamp}"


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


def record_kl_report(run_dir, lines):
    """Prepend the KL report (:func:`~pyrovae.infer.analytic.kl_report` lines) to the run's
    config.toml as ``#`` comments: a reader of the run sees which KL terms were analytic and
    which were Monte Carlo estimates, and TOML loaders ignore the comments."""
    path = Path(run_dir) / CONFIG
    text = "".join(f"# {line}\n" for line in lines) + path.read_text()
    atomic_write(path, lambda f: f.write(text.encode()))


def train(config: Config, progress=None, overwrite=False, log=print):
    """Train the model a config describes and write its run directory.

    Everything that can be checked is checked before anything is written: the config (when it
    was loaded), the device, the data and its labels, the model, the objective and the
    optimizer. The run is then written into a fresh directory beside its target
    (:class:`~pyrovae.runs.RunDirectory`), which takes the target's place whole once the first
    epoch's checkpoint exists: a run that fails before that leaves nothing behind, and an
    ``overwrite`` that fails leaves the old run untouched.

    :returns: ``(run_dir, module, rows)``; ``module`` holds the best validation epoch's weights.
    """
    from .runs import RunDirectory

    target = Path(config.output.dir or default_run_dir(config))
    config.output.dir = str(target)
    session = _Session(config, progress, log)  # checks everything before writing anything
    if not session.world.is_main:  # only rank 0 writes (pyrovae.distributed)
        return target, session.module, session.run(None)
    replacing = target.is_dir() and any(target.iterdir())
    with RunDirectory(target, overwrite=overwrite) as run:
        try:
            rows = session.run(run)
        except TrainingError as e:
            if session.rows:
                kept = f"{target} keeps the checkpoint of epoch {session.rows[-1]['epoch']}"
            else:
                kept = (f"the existing run in {target} is untouched" if replacing
                        else f"nothing was written to {target}")
            raise TrainingError(f"{e}; {kept}") from None
    return target, session.module, rows


def resume(run_dir, epochs=None, progress=None, log=print):
    """Continue a run from its last checkpoint (``pyrovae train --resume``), or extend a
    finished one to ``epochs``; the result is the same, bit for bit on the CPU, as a run that
    was never stopped.

    The checkpoint holds everything that decides the future: weights, optimizer and scheduler
    state, the epoch (and so the KL warm-up position), the early-stopping record, and every
    random state (torch CPU and CUDA, Python, NumPy, the batches' generators). A checkpoint of
    another pyrovae version or checkpoint format, or a config.toml edited since, is refused.

    :returns: ``(run_dir, module, rows)`` as :func:`train` (all the run's rows).
    """
    from . import __version__
    from .config import config_to_dict
    from .errors import CheckpointError
    from .runs import (
        CHECKPOINT,
        VERSION,
        RunDirectory,
        canonical_config,
        load_run_config,
        read_checkpoint,
    )

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    path = run_dir / CHECKPOINT
    state = read_checkpoint(path)
    if "training" not in state:
        raise CheckpointError(f"{path} holds no training state (format version "
                              f"{state.get('version')}); it can be evaluated but not resumed")
    if state.get("version") != VERSION or state.get("pyrovae") != __version__:
        raise CheckpointError(
            f"{path} was written by pyrovae {state.get('pyrovae', 'before 0.1.0')} (checkpoint "
            f"format {state.get('version')}); this is pyrovae {__version__} (format {VERSION}), "
            "which cannot continue it exactly; evaluate it, or start a new run"
        )
    saved, current = canonical_config(state["config"]), config_to_dict(config)
    # a key the saved config lacks (added to pyrovae since) is fine at its default value,
    # which config.toml then reads back as
    changed = sorted(f"{section}.{key}" for section in saved
                     for key in saved[section]
                     if saved[section][key] != current.get(section, {}).get(key)
                     and f"{section}.{key}" != "train.epochs")
    if changed:
        raise CheckpointError(
            f"{run_dir / 'config.toml'} differs from its checkpoint in {', '.join(changed)}; a "
            "resume continues a run as it was configured (only --epochs may change): restore "
            "those keys, or start a new run with --config"
        )
    done = int(state["training"]["trainer"]["epoch"])
    reason = state["training"]["trainer"]["stop_reason"]
    if reason:
        raise CheckpointError(f"{run_dir} has finished: {reason}; nothing to resume")
    if epochs is not None:
        config.train.epochs = int(epochs)
    if config.train.epochs <= done:
        raise ConfigError(
            f"{run_dir} has run {done} of its {config.train.epochs} epochs: it is finished; "
            f"pass --epochs N with N > {done} to extend it"
        )
    session = _Session(config, progress, log, state=state)
    if not session.world.is_main:
        return run_dir, session.module, session.run(None)
    with RunDirectory(run_dir, resume=True) as run:
        try:
            rows = session.run(run)
        except TrainingError as e:
            raise TrainingError(f"{e}; {run_dir} keeps the checkpoint of epoch "
                                f"{session.rows[-1]['epoch'] if session.rows else done}") from None
    return run_dir, session.module, rows


class _Session:
    """One training session of a run: built (and so checked) before the run directory is
    touched, then :meth:`run` against it."""

    def __init__(self, config, progress, log, state=None):
        from . import distributed

        t = config.train
        self.world, self.device = distributed.init(resolve_device(t.device))
        self.config, self.state = config, state
        self.log = log if self.world.is_main else (lambda *args, **kwargs: None)
        if t.num_threads > 0:
            torch.set_num_threads(t.num_threads)
        elif self.world.size > 1:
            torch.set_num_threads(distributed.threads_per_rank(self.world))
        pyro.set_rng_seed(t.seed)
        self.dataset = load_data(config, self.device)
        self.module = build_model(config, self.dataset.event_shape,
                                  self.dataset.num_classes).to(self.device)
        self.module.check_data(self.dataset)
        labels = self.module.given(self.dataset.train.y)
        check_model(self.module, self.dataset.train.x[:2], None if labels is None else labels[:2])
        self.kl_lines = [site.line for site in
                         kl_report(self.module, t.objective, self.dataset.train.x[:2],
                                   None if self.dataset.train.y is None
                                   else self.dataset.train.y[:2])]
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
        )
        self.best_state = None  # the best epoch's weights, on ranks that write no best.pt
        self.batches = self.dataset.batches(t.batch_size, t.seed,
                                            labelled_every=config.data.labelled_every,
                                            labelled_batch=config.data.labelled_batch)
        self.rows = []
        if state is not None:
            self.module.load_state_dict(state["state_dict"])
            self.trainer.load_state_dict(state["training"]["trainer"])
            self.batches.load_state_dict(state["training"]["batches"])

    def _save(self, run, epoch, improved):
        from . import rng
        from .runs import BEST

        common = dict(event_shape=self.dataset.event_shape, num_classes=self.dataset.num_classes,
                      epoch=epoch)
        training = {"trainer": self.trainer.state_dict(), "batches": self.batches.state_dict(),
                    "rng": rng.get_state()}
        if improved:
            save_checkpoint(run.path, self.module, self.config, name=BEST, **common)
        save_checkpoint(run.path, self.module, self.config, training=training, **common)
        if not run.committed:
            run.commit()  # the first checkpoint exists: the run takes its place

    def run(self, run):
        """Train, writing into ``run`` (a :class:`~pyrovae.runs.RunDirectory`; ``None`` on a
        rank other than 0, which computes its share and writes nothing)."""
        from . import rng
        from .runs import read_metrics

        config, t = self.config, self.config.train
        if run is not None:
            write_config(run.path, config)
            record_kl_report(run.path, self.kl_lines)
        for line in self.kl_lines:
            self.log(line)
        if self.state is not None:
            done = self.trainer.epoch
            if run is not None:
                self.rows = [r for r in read_metrics(run.path) if r.get("epoch", 0) <= done]
            rng.set_state(self.state["training"]["rng"])
            if run is not None:
                self.log(f"resuming {run.path} after epoch {done} of {t.epochs}")

        from .tensorboard import TensorBoardLogger

        boards = []  # opened after the first checkpoint: its writer keeps a path, and the run
        # only reaches its final path at that commit

        def on_epoch(row, improved):
            self.rows.append(row)
            if run is None:
                if improved:
                    self.best_state = {k: v.detach().clone()
                                       for k, v in self.module.state_dict().items()}
                return
            write_metrics(run.path, self.rows)
            self._save(run, row["epoch"], improved)
            if not boards:
                boards.append(TensorBoardLogger(run.path, enabled=config.output.tensorboard))
            boards[0].log(row, self.module, self.dataset.event_shape)

        d = self.dataset
        ranks = f" on {self.world.size} ranks" if self.world.size > 1 else ""
        self.log(
            f"training a {config.model.kind} on {d.name} ({len(d.train)} train, "
            f"{len(d.valid)} valid, {len(d.test)} test) for {t.epochs} epochs on "
            f"{self.device}{ranks}"
        )
        try:
            self.trainer.fit(d, t.epochs, t.batch_size, t.seed, t.eval_batch_size,
                             t.eval_samples, on_epoch=on_epoch, batches=self.batches)
        finally:
            for board in boards:
                board.close()
        if self.trainer.stop_reason:
            self.log(self.trainer.stop_reason)
        if t.epochs == 0 and run is not None:  # still leave a loadable run
            self._save(run, 0, improved=False)
        self._finish(run)
        return self.rows

    def _finish(self, run):
        """The best epoch's weights back into the module; figures; ``results.json``."""
        from .runs import BEST, write_results

        if run is None:
            if self.best_state is not None:
                self.module.load_state_dict(self.best_state)
            self.results()  # the test evaluations are sharded: every rank takes part
            return
        best = Path(run.path) / BEST
        if best.exists():
            state = torch.load(best, map_location="cpu", weights_only=True)
            self.module.load_state_dict(state["state_dict"])
        results = self.results()
        figures = write_figures(self.module, self.dataset, run.path)
        results["files"] = [*(name for name in RUN_FILES  # results.json: being written
                              if name == "results.json" or (Path(run.path) / name).exists()),
                            *(Path(path).name for path in figures)]
        write_results(run.path, results)

    def results(self):
        """The run's summary: the best epoch's test ELBO (and importance-sampled bound with
        ``train.final_iwae_k`` samples), how and why training ended, versions."""
        import platform

        from . import __version__
        from .config import config_to_dict
        from .infer.importance import evaluate_log_likelihood

        t, trainer, test = self.config.train, self.trainer, self.dataset.test
        self.module.eval()
        result = {
            "config_sha256": config_hash(config_to_dict(self.config)),
            "epochs_run": trainer.epoch,
            "epochs": t.epochs,
            "best_epoch": trainer.best_epoch,
            "best_valid_elbo": trainer.best_elbo if trainer.best_epoch else None,
            "stop_reason": trainer.stop_reason or f"reached epoch {trainer.epoch}",
            "train_seconds": trainer.seconds,
            "test": self.module.evaluate(test.x, test.y, t.eval_batch_size, t.eval_samples,
                                         world=self.world),
            "versions": {"pyrovae": __version__, "torch": torch.__version__,
                         "pyro": pyro.__version__, "python": platform.python_version()},
        }
        if t.final_iwae_k:
            start = time.perf_counter()
            bound = evaluate_log_likelihood(self.module, test.x, t.final_iwae_k,
                                            world=self.world, y=self.module.given(test.y))
            bound["seconds"] = time.perf_counter() - start
            result["test"].update(bound)
        return result


def config_hash(config_dict):
    """SHA-256 of a config's canonical JSON (sorted keys, without ``output.dir``, ``train.epochs``
    and the device, which do not change what is learned per epoch)."""
    import hashlib
    import json

    canonical = {section: dict(table) for section, table in config_dict.items()}
    canonical["output"] = {k: v for k, v in canonical.get("output", {}).items() if k != "dir"}
    canonical["train"] = {k: v for k, v in canonical.get("train", {}).items()
                          if k not in ("epochs", "device", "num_threads")}
    text = json.dumps(canonical, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
