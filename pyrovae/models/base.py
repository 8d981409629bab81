"""The interface every trainable model kind follows, and their registry (``model.kind``).

The training loop (:mod:`pyrovae.train`) only talks to this interface, so it knows nothing about
priors, likelihoods or labels. A model kind is an ``nn.Module`` with

* ``model(x, y=None)`` and ``guide(x, y=None)``: the Pyro programs;
* :meth:`LatentVariableModel.loss`: the differentiable loss of one batch (summed over it);
* :meth:`LatentVariableModel.batches`: the training batches of one epoch;
* :meth:`LatentVariableModel.evaluate`: metrics on a split (nats per example);
* ``check_config`` / ``from_config`` classmethods used by the config loader and checkpoints.
"""

import contextlib

from pyro import poutine
from torch import nn

from ..data import Batcher, binarize
from ..errors import DataError
from ..registry import Registry

__all__ = ["LatentVariableModel", "MODELS", "kl_scale"]

MODELS = Registry("model")


def kl_scale(weight):
    """The handler that weights a latent site by β: ``poutine.scale(β)``, or for β = 0 (the
    first epoch of KL warm-up, or ``model.kl_weight = 0``) ``poutine.mask(False)``, which drops
    the site's log p and log q from the ELBO, since Pyro refuses a scale of 0. For β = 1 (the
    ELBO itself) no handler is needed, and none is pushed: this runs on every training step."""
    if weight == 1:
        return contextlib.nullcontext()
    return poutine.mask(mask=False) if weight == 0 else poutine.scale(scale=weight)


class LatentVariableModel(nn.Module):
    """Abstract base of the model kinds."""

    #: plates nested in ``model``/``guide`` (for vectorized particles and enumeration)
    max_plate_nesting = 1
    #: when set, the guide registers the module's parameters in Pyro's param store under this
    #: name (``pyro.module``): Pyro's JIT ELBOs find parameters there. The trainer sets it once
    #: for a JIT objective; the JIT graph then replays without re-registering every step.
    param_store_name = None

    @classmethod
    def check_config(cls, config):
        """Raise :class:`~pyrovae.errors.ConfigError` for settings this kind cannot honour."""

    @classmethod
    def from_config(cls, config, event_shape, num_classes=None):
        raise NotImplementedError

    def model(self, x, y=None):
        raise NotImplementedError

    def guide(self, x, y=None):
        raise NotImplementedError

    def loss(self, objective, x, y=None):
        """The objective's loss on a batch (−ELBO summed over the batch), differentiable."""
        return objective.differentiable_loss(self.model, self.guide, x, y)

    def batches(self, dataset, batch_size, seed):
        """A re-iterable of ``(x, y)`` training batches; each pass is one epoch."""
        train = dataset.train
        return Batcher(
            train.x,
            train.y,
            batch_size=batch_size,
            shuffle=True,
            dynamic_binarize=dataset.binarize == "dynamic",
            seed=seed,
        )

    def check_data(self, dataset):
        """Refuse data that does not fit: wrong example shape, or values outside the
        likelihood's support (:class:`~pyrovae.errors.DataError`)."""
        if tuple(dataset.event_shape) != tuple(self.event_shape):
            raise DataError(
                f"data set '{dataset.name}' has examples of shape {tuple(dataset.event_shape)} "
                f"but the model expects {tuple(self.event_shape)}; use the data the model was "
                "trained on"
            )
        for name in ("train", "valid", "test"):
            x = dataset.split(name).x
            if name == "train" and dataset.binarize == "dynamic":
                x = binarize(x)  # what the likelihood will see: a fresh draw every epoch
            self.likelihood.check_data(x, f"the {name} split of {dataset.name}")

    def evaluate(self, x, y=None, batch_size=1000, num_samples=1):
        """Metrics (nats per example) on a split."""
        raise NotImplementedError
