"""The SVI loop and the ``train`` entry point that writes a run directory.

:class:`Trainer` minimizes a Pyro ELBO by stochastic gradients: for each batch it evaluates
``objective.differentiable_loss(model, guide, x)`` (the Monte Carlo or analytic −ELBO, a torch
scalar), back-propagates and steps a torch optimizer that was given the parameters once. It knows
nothing about priors or likelihoods: it talks to the model through
:class:`~pyrovae.models.base.LatentVariableModel`.
"""

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
from .divergence import DivergenceMonitor, TrainingError
from .errors import ConfigError
from .infer.analytic import kl_report
from .infer.objectives import OBJECTIVES
from .infer.objectives.jit import is_jit
from .models.base import build_model
from .optim import OPTIMIZERS
from .plots import as_images, save_grid, save_reconstructions
from .runs import (
    CONFIG,
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


def resolve_device(name):
    """A ``torch.device`` for ``name`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}'; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA is not available on this machine; use --device cpu")
    return device


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
    ):
        self.module = module
        self.objective = OBJECTIVES.resolve(
            objective, {"max_plate_nesting": module.max_plate_nesting}
        )
        self.optimizer = OPTIMIZERS.resolve(
            optimizer, {"params": list(module.parameters()), "lr": lr}
        )
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if is_jit(self.objective):
            module.param_store_name = f"pyrovae-{id(module):x}"  # unique per module
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.monitor = DivergenceMonitor(divergence_factor)
        # a sync per step costs nothing on the CPU and stops a bad step before the optimizer
        # applies it; on an accelerator the monitor is read every 100 steps and per epoch
        self.check_every = None
        self._steps = None  # steps in the current epoch, for the divergence report
        self.epoch = 0

    def step(self, x, y=None, kl_weight=1.0, index=0):
        """One SVI step on a batch; returns the loss tensor (summed over the batch, detached).

        :param int index: the step's position in the epoch (for the divergence report).
        """
        loss = self.module.loss(self.objective, x, y, kl_weight=kl_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in self.params if p.grad is not None]
        grad_norm = torch.stack(torch._foreach_norm(grads)).sum() if grads else loss.new_zeros(())
        self.monitor.observe(loss.detach() / x.shape[0], grad_norm, index)
        if self.check_every is None:
            self.check_every = 1 if loss.device.type == "cpu" else 100
        if (index + 1) % self.check_every == 0:
            self.monitor.check(self.epoch + 1, self._steps)
        self.optimizer.step()
        return loss.detach()

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
        self.last_kl_weight = weight
        return total.item() / max(count, 1)

    def fit(
        self,
        dataset,
        epochs,
        batch_size=128,
        seed=0,
        eval_batch_size=1000,
        eval_samples=1,
        on_epoch=None,
    ):
        """Train for ``epochs`` epochs; after each, evaluate on the validation split.

        :param dataset: a :class:`~pyrovae.data.DataSet`; its :meth:`~pyrovae.data.DataSet.batches`
            are the training batches.
        :param on_epoch: called as ``on_epoch(row)`` with the epoch's metrics dict.
        :returns: the list of per-epoch metric rows.
        """
        batches = dataset.batches(batch_size, seed)
        rows = []
        bar = tqdm(
            total=epochs * len(batches),
            disable=not self.progress,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
        )
        with bar:
            for _ in range(epochs):
                start = time.perf_counter()
                train_loss = self.train_epoch(batches, bar)
                seconds = time.perf_counter() - start
                self.module.eval()
                valid = self.module.evaluate(
                    dataset.valid.x, dataset.valid.y, eval_batch_size, eval_samples
                )
                row = {
                    "epoch": self.epoch,
                    "train_loss": train_loss,
                    "kl_weight": self.last_kl_weight,
                    **{f"valid_{k}": v for k, v in valid.items() if not k.endswith("_stderr")},
                    "epoch_seconds": seconds,
                }
                rows.append(row)
                bar.set_postfix(loss=f"{train_loss:.2f}", valid_elbo=f"{valid['elbo']:.2f}")
                if on_epoch is not None:
                    on_epoch(row)
        return rows


def default_run_dir(config):
    name = Path(config.data.name).stem if config.data.name.endswith((".npy", ".npz")) else None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name or config.data.name}-{config.model.kind}-{stamp}"


def write_figures(module, dataset, run_dir, n=64):
    """samples.png (from the prior) and reconstructions.png (test images and their
    reconstructions), plus whatever the module's own ``figures(dataset, run_dir)`` hook writes;
    skipped for data that are not images."""
    module.eval()
    written = []
    samples = as_images(module.sample(n), dataset.event_shape)
    if samples is not None:
        written.append(save_grid(samples, Path(run_dir) / "samples.png", nrow=8))
        x = dataset.test.x[:32]
        originals = as_images(x, dataset.event_shape)
        recons = as_images(module.reconstruct(x), dataset.event_shape)
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

    :returns: ``(run_dir, module, rows)``.
    """
    t = config.train
    device = resolve_device(t.device)
    if t.num_threads > 0:
        torch.set_num_threads(t.num_threads)
    pyro.set_rng_seed(t.seed)
    dataset = load_data(config, device)
    module = build_model(config, dataset.event_shape, dataset.num_classes).to(device)
    module.check_data(dataset)
    kl_lines = [site.line for site in kl_report(module, t.objective, dataset.train.x[:2])]
    trainer = Trainer(
        module,
        t.objective,
        t.optimizer,
        t.lr,
        kl_weight=config.model.kl_weight,
        kl_warmup_epochs=config.model.kl_warmup_epochs,
        progress=progress,
        divergence_factor=t.divergence_factor,
    )
    from .runs import RunDirectory

    target = Path(config.output.dir or default_run_dir(config))
    config.output.dir = str(target)
    replacing = target.is_dir() and any(target.iterdir())
    rows = []
    with RunDirectory(target, overwrite=overwrite) as run:
        write_config(run.path, config)
        record_kl_report(run.path, kl_lines)
        for line in kl_lines:
            log(line)

        def checkpoint(epoch):
            save_checkpoint(
                run.path,
                module,
                config,
                event_shape=dataset.event_shape,
                num_classes=dataset.num_classes,
                epoch=epoch,
                optimizer=trainer.optimizer,
            )
            if not run.committed:
                run.commit()  # the first checkpoint exists: the run takes its place

        def on_epoch(row):
            rows.append(row)
            write_metrics(run.path, rows)
            checkpoint(row["epoch"])

        log(
            f"training a {config.model.kind} on {dataset.name} ({len(dataset.train)} train, "
            f"{len(dataset.valid)} valid, {len(dataset.test)} test) for {t.epochs} epochs on "
            f"{device}"
        )
        try:
            trainer.fit(
                dataset,
                t.epochs,
                t.batch_size,
                t.seed,
                t.eval_batch_size,
                t.eval_samples,
                on_epoch=on_epoch,
            )
        except TrainingError as e:
            if rows:
                kept = f"{target} keeps the checkpoint of epoch {rows[-1]['epoch']}"
            else:
                kept = (f"the existing run in {target} is untouched" if replacing
                        else f"nothing was written to {target}")
            raise TrainingError(f"{e}; {kept}") from None
        if t.epochs == 0:  # still leave a loadable run
            checkpoint(0)
        write_figures(module, dataset, run.path)
    return target, module, rows
