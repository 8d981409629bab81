"""The interface every model kind implements, and their registry (``model.kind``).

Everything outside ``models/`` talks to a model through this interface and never through a
kind's attributes: the trainer (:mod:`pyrovae.training`) asks for :meth:`LatentVariableModel.loss`;
the estimators (:mod:`pyrovae.infer`) ask for ELBO terms, log importance weights and parameter
groups. So every estimator works on every kind, as every Pyro ELBO works on any model/guide
pair, and a new kind is one file plus its registration.

A model kind is an ``nn.Module`` with

* ``build(event_shape, ...)``: a classmethod whose keyword arguments are the kind's config
  options (``[model]`` keys), checked by :data:`MODELS` like any component's options; those
  named in :attr:`LatentVariableModel.components` are components of other registries;
* ``model(x, y=None, kl_weight=1.0)`` and ``guide(x, y=None, kl_weight=1.0)``: the Pyro programs.
  β (``kl_weight``) is an argument, as Pyro's ``examples/dmm`` passes its annealing factor:
  nobody writes training state into the model;
* :meth:`~LatentVariableModel.loss`, :meth:`~LatentVariableModel.elbo_terms`,
  :meth:`~LatentVariableModel.log_weight_sampler`, :meth:`~LatentVariableModel.parameter_groups`.
"""

import contextlib
import warnings

import torch
from pyro import poutine
from torch import nn

from ..data import binarize
from ..errors import DataError, PyroVAEError
from ..registry import Registry

__all__ = ["FEATURES", "LatentVariableModel", "MODELS", "build_model", "kl_scale"]

#: kind -> model class; the options of a kind are the keywords of its ``build`` classmethod.
MODELS = Registry("model", builder_args=("event_shape", "num_classes"), constructor="build")

#: what an estimator can ask of a model kind (:meth:`LatentVariableModel.require`)
FEATURES = {
    "elbo": "per-example ELBO terms (elbo_terms)",
    "importance": "log importance weights under the guide (log_weight_sampler)",
    "naive": "log weights under the prior (log_weight_sampler with proposal='prior')",
    "gradient-noise": "parameter groups (parameter_groups)",
}


def build_model(config, event_shape, num_classes=None):
    """The model a :class:`~pyrovae.config.Config`'s ``[model]`` section describes, for data of
    ``event_shape`` with ``num_classes`` classes (``None``: unlabelled)."""
    return MODELS.build(
        config.model.kind,
        {"event_shape": tuple(event_shape), "num_classes": num_classes},
        **config.model.options,
    )


def kl_scale(weight):
    """The handler that weights a latent site by β: ``poutine.scale(β)``, or for β = 0
    (``model.kl_weight = 0``, the autoencoder limit) ``poutine.mask(False)``, which drops the
    site's log p and log q from the ELBO, since Pyro refuses a scale of 0. For β = 1 (the ELBO
    itself) no handler is needed, and none is pushed: this runs on every training step. A tensor
    β (a compiled step's input, :mod:`pyrovae.compiled`) is always a scale."""
    if torch.is_tensor(weight):
        return poutine.scale(scale=weight)
    if weight == 1:
        return contextlib.nullcontext()
    return poutine.mask(mask=False) if weight == 0 else poutine.scale(scale=weight)


class LatentVariableModel(nn.Module):
    """Abstract base of the model kinds (see the module docstring)."""

    #: plates nested in ``model``/``guide`` (for vectorized particles and enumeration)
    max_plate_nesting = 1
    #: ``build`` keywords that are components: option -> registry kind (``"prior"``, ...)
    components = {}
    #: the :data:`FEATURES` this kind provides
    features = frozenset(FEATURES)
    #: decoder rows per importance sample and example (M2 decodes every class: K)
    rows_per_sample = 1
    #: whether ``data.binarize = "auto"`` binarizes grey levels for a binary likelihood
    auto_binarize = True
    #: whether ``sample(n)`` draws from nothing (a kind that completes observed parts of an
    #: example cannot: the figures and TensorBoard then show its own pictures only)
    unconditional_samples = True
    #: whether the model is of x given its label y (p(x|y), a conditional VAE): the estimators
    #: are then handed the labels (:meth:`given`) and bound log p(x|y)
    conditional = False

    @classmethod
    def build(cls, event_shape, **options):
        raise NotImplementedError

    @classmethod
    def check_config(cls, config):
        """Raise :class:`~pyrovae.errors.ConfigError` for settings this kind cannot honour
        (called when a config is loaded, before any data is read)."""
        cls.check_objective(config.train.objective)

    @classmethod
    def check_objective(cls, objective):
        """Raise :class:`~pyrovae.errors.ConfigError` if this kind cannot train with
        ``objective`` (a :class:`~pyrovae.config.Component`); every objective by default."""

    # -- the Pyro programs and the loss -----------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        raise NotImplementedError

    def guide(self, x, y=None, kl_weight=1.0):
        raise NotImplementedError

    def loss(self, objective, x, y=None, kl_weight=1.0):
        """The objective's loss on a batch (−ELBO summed over the batch), differentiable."""
        return objective.differentiable_loss(self.model, self.guide, x, y, kl_weight=kl_weight)

    # -- what the estimators ask for --------------------------------------------------------

    def given(self, y):
        """What the estimators condition on for examples with labels ``y``: ``y`` itself for a
        :attr:`conditional` kind, else ``None`` (an M2's labels are for its accuracy, not its
        ELBO, which sums y out)."""
        return y if self.conditional else None

    def elbo_terms(self, x, num_samples=1, kl="auto", y=None):
        """Per-example ``{"elbo", "reconstruction", "kl"}`` (tensors ``(B,)``, nats) and the
        KL method (``"analytic"`` or ``"monte-carlo"``); ``y``: the examples' conditions
        (:meth:`given`), for a :attr:`conditional` kind only.

        :param str kl: ``"auto"`` (closed form where registered), ``"analytic"`` (raise
            :class:`~pyrovae.infer.elbo.NoClosedForm` if there is none) or ``"monte-carlo"``.
        """
        raise NotImplementedError

    def log_weight_sampler(self, x, proposal="guide", y=None):
        """``draw`` such that ``draw(k)`` returns log importance weights ``(k, B)`` for the
        examples ``x``: log p(x, z) − log q(z|x) with z ~ q(z|x) (``proposal="guide"``), or
        log p(x|z) with z ~ p(z) (``proposal="prior"``); latent variables that can be summed
        exactly are summed inside the weight. Each weight's exponential is an unbiased estimate
        of p(x). Per-example work (the encoder) runs once, when the sampler is made."""
        raise NotImplementedError

    def parameter_groups(self):
        """``{group: [parameters]}`` for the gradient-noise report, e.g. ``encoder``,
        ``decoder``, ``prior``; empty groups are left out."""
        raise NotImplementedError

    def require(self, feature, what):
        """Raise a one-line :class:`~pyrovae.errors.PyroVAEError` before any work if this kind
        does not provide ``feature`` (a key of :data:`FEATURES`) that ``what`` needs."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}; one of {sorted(FEATURES)}")
        if feature not in self.features:
            raise PyroVAEError(
                f"{what} needs {FEATURES[feature]}, which the '{self.kind}' model does not "
                f"provide; it works with: {', '.join(self.kinds_with(feature))}"
            )

    @property
    def kind(self):
        """The registered name of this model's kind."""
        return next((n for n in MODELS.names() if MODELS.get(n) is type(self)),
                    type(self).__name__)

    @staticmethod
    def kinds_with(feature):
        return [n for n in MODELS.names() if feature in MODELS.get(n).features]

    @staticmethod
    def _groups(parts):
        """``{name: parameters}`` of ``{name: modules}``, trainable only, empty groups dropped."""
        groups = {}
        for name, modules in parts.items():
            params = [p for m in modules for p in m.parameters() if p.requires_grad]
            if params:
                groups[name] = params
        return groups

    # -- data and evaluation ----------------------------------------------------------------

    def check_data(self, dataset):
        """Refuse data that does not fit: wrong example shape, or values outside the
        likelihood's support (:class:`~pyrovae.errors.DataError`)."""
        if tuple(dataset.event_shape) != tuple(self.event_shape):
            raise DataError(
                f"data set '{dataset.name}' has examples of shape {tuple(dataset.event_shape)} "
                f"but the model expects {tuple(self.event_shape)}; use the data the model was "
                "trained on"
            )
        caught = {}  # a warning about several splits is given once, naming them all
        for name in ("train", "valid", "test"):
            x = dataset.split(name).x
            if name == "train" and dataset.binarize == "dynamic":
                x = binarize(x)  # what the likelihood will see: a fresh draw every epoch
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                self.likelihood.check_data(x, f"the {name} split of {dataset.name}")
            for record in records:
                text = str(record.message).replace(f"the {name} split", "the {splits}")
                caught.setdefault((text, record.category), []).append(name)
        for (text, category), names in caught.items():
            splits = (f"{names[0]} split" if len(names) == 1
                      else f"{', '.join(names[:-1])} and {names[-1]} splits")
            warnings.warn(text.replace("{splits}", splits).replace(" has ", " have ", 1)
                          if len(names) > 1 else text.replace("{splits}", splits), category,
                          stacklevel=2)

    def evaluate(self, x, y=None, batch_size=1000, num_samples=1, world=None):
        """ELBO, reconstruction and KL in nats per example with standard errors (see
        :func:`~pyrovae.infer.elbo.evaluate_elbo`; ``world`` shards the examples over
        data-parallel ranks); kinds add their own metrics."""
        from ..infer.elbo import evaluate_elbo

        return evaluate_elbo(self, x, batch_size=batch_size, num_samples=num_samples,
                             world=world, y=self.given(y))
