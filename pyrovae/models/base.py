"""The interface every model kind implements, and their registry (``model.kind``).

Everything outside ``models/`` talks to a model through this interface and never through a
kind's attributes: the trainer (:mod:`pyrovae.training`) asks for :meth:`LatentVariableModel.loss`;
the estimators (:mod:`pyrovae.infer`) ask for nothing but the two Pyro programs, and derive ELBO
terms, importance weights, the naive estimate, labels and parameter groups from their traces
(:mod:`pyrovae.infer.traces`). So every estimator works on every kind, as every Pyro ELBO works
on any model/guide pair, and a new kind is one file plus its registration, with no estimator
code.

A model kind is an ``nn.Module`` with

* ``build(event_shape, ...)``: a classmethod whose keyword arguments are the kind's config
  options (``[model]`` keys), checked by :data:`MODELS` like any component's options; those
  named in :attr:`LatentVariableModel.components` are components of other registries;
* ``model(x, y=None, kl_weight=1.0)`` and ``guide(x, y=None, kl_weight=1.0)``: the Pyro programs.
  β (``kl_weight``) is an argument, as Pyro's ``examples/dmm`` passes its annealing factor:
  nobody writes training state into the model;
* optionally :meth:`~LatentVariableModel.loss` (an extra term such as M2's classification
  loss), :meth:`~LatentVariableModel.check_config`, and ``figures`` (pictures of its own).

Both programs call :meth:`~LatentVariableModel.register` first, so that plain
``pyro.infer.SVI`` with a ``pyro.optim`` optimizer trains the kind too.

The public methods are where a caller's values enter, and every kind's are checked in one place
(:mod:`pyrovae.models.guards`, with :mod:`pyrovae.checks`): when a class is defined, its ``build``,
``loss``, ``evaluate``, ``sample``, ``reconstruct`` and ``classify`` are wrapped, so a bad
argument is one typed line (``VAE.build: z_dim must be a positive int, got -1``) for the
shipped kinds and a kind of the user's own alike. ``build`` checks the example shape and, for a
shipped kind, every option by the type of its default, refuses sizes beyond this machine's
memory before allocating (counting the parameters on the meta device), and dry-runs the built
model on one example (:func:`~pyrovae.models.guards.dry_run`), so a component built from a bad object is refused then,
not at the first step. ``evaluate`` also refuses values outside the likelihood's support.
``loss`` runs on every step: it reads shapes and dtypes only, never a value.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import pyro
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO
from torch import nn

from ..data import binarize
from ..errors import ConfigError, DataError, PyroVAEError
from ..infer.elbo import evaluate_elbo
from ..infer.labels import accuracy, infers_labels
from ..infer.objectives.enum import EnumELBO
from ..infer.objectives.trace import TraceELBO
from ..infer.traces import classify, observed_mean
from ..params import OwnParameters, owns_parameters
from ..registry import Registry
from .guards import guard
from .labels import label_tensor

if TYPE_CHECKING:
    from ..data.base import DataSet
    from ..distributed import World

__all__ = ["LatentVariableModel", "MODELS", "OwnParameters", "build_model", "kl_scale"]

#: kind -> model class; the options of a kind are the keywords of its ``build`` classmethod.
MODELS = Registry("model", builder_args=("event_shape", "num_classes"), constructor="build")

def build_model(config, event_shape, num_classes=None):
    """The model a :class:`~pyrovae.config.Config`'s ``[model]`` section describes, for data of
    ``event_shape`` with ``num_classes`` classes (``None``: unlabelled)."""
    model = MODELS.build(
        config.model.kind,
        {"event_shape": tuple(event_shape), "num_classes": num_classes},
        **config.model.options,
    )
    if getattr(model, "event_shape", None) is None:  # a kind of the user's own may leave it out
        model.event_shape = tuple(event_shape)
    return model


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
    #: whether the guide enumerates a discrete site (``infer={"enumerate": "parallel"}``, e.g.
    #: a label): the loss is then the enumerated ELBO (:meth:`enumerated`)
    enumerates = False
    #: whether ``data.binarize = "auto"`` binarizes grey levels for a binary likelihood
    auto_binarize = True
    #: whether ``sample(n)`` draws from nothing (a kind that completes observed parts of an
    #: example cannot: the figures and TensorBoard then show its own pictures only)
    unconditional_samples = True
    #: whether the model is of x given its label y (p(x|y), a conditional VAE): the estimators
    #: are then handed the labels (:meth:`given`) and bound log p(x|y)
    conditional = False
    #: whether the kind learns from labels, so that ``data.labels`` (keep a few training labels)
    #: applies to it; every other kind refuses ``data.labels`` (one check, in the config)
    uses_labels = False
    #: whether the kind needs the label of every example (a ``conditional`` one): then
    #: ``data.labels`` is refused too, with a message saying so
    needs_every_label = False
    #: ``build`` keywords whose values :meth:`check_config` checks itself, instead of the config
    #: checking them against the type of their default (M2's ``label_prior``: "uniform" or a
    #: list of probabilities)
    checked_options = frozenset()

    def __init_subclass__(cls, **kwargs):
        """Guard the entry points a kind defines (``build``, ``loss``, ``evaluate``, ``sample``,
        ``reconstruct``, ``classify``) with the checks of their arguments (:func:`~pyrovae.models.guards.guard`)."""
        super().__init_subclass__(**kwargs)
        guard(cls)

    @classmethod
    def build(cls, event_shape: Sequence[int], **options: Any) -> Self:
        raise NotImplementedError

    @classmethod
    def check_config(cls, config):
        """Raise :class:`~pyrovae.errors.ConfigError` for settings this kind cannot honour
        (called when a config is loaded, before any data is read)."""
        cls.check_objective(config.train.objective)

    @classmethod
    def check_objective(cls, objective):
        """Raise :class:`~pyrovae.errors.ConfigError` if this kind cannot train with
        ``objective`` (a :class:`~pyrovae.config.Component`): a kind that :attr:`enumerates`
        trains with the ``trace`` objective only (its enumerated form); every other kind with
        every objective by default."""
        if cls.enumerates and objective.name != "trace":
            kind = next((n for n in MODELS.names() if MODELS.get(n) is cls), cls.__name__)
            raise ConfigError(
                f"the {kind} model sums over labels with Pyro's TraceEnum_ELBO, the enumerated "
                f"form of the 'trace' objective; '{objective.name}' has no enumerated form: use "
                "train.objective = \"trace\""
            )

    def enumerated(self, objective):
        """The enumerated ELBO (:class:`~pyrovae.infer.objectives.enum.EnumELBO`, Pyro's
        ``TraceEnum_ELBO`` without host syncs) that stands for the ``trace`` objective (same
        particles and vectorization; cached per objective), for a kind that
        :attr:`enumerates`. Other ELBOs have no enumerated form and are refused."""
        if isinstance(objective, EnumELBO):
            return objective
        if type(objective) not in (TraceELBO, Trace_ELBO):
            raise ConfigError(
                f"the {self.kind} model needs the 'trace' objective (it becomes the enumerated "
                f"ELBO), got {type(objective).__name__}; use train.objective = \"trace\""
            )
        cache = self.__dict__.setdefault("_enumerated", {})
        if id(objective) not in cache:
            vectorized = objective.vectorize_particles and objective.num_particles > 1
            cache[id(objective)] = EnumELBO(
                num_particles=objective.num_particles,
                vectorize_particles=objective.vectorize_particles,
                # an ELBO with vectorized particles has already counted their plate
                max_plate_nesting=objective.max_plate_nesting - int(vectorized),
                strict_enumeration_warning=False,  # labelled batches have nothing to enumerate
            )
        return cache[id(objective)]

    # -- the Pyro programs and the loss -----------------------------------------------------

    @property
    def pyro_name(self):
        """The name under which :meth:`register` puts the parameters in Pyro's param store
        (``"<name>$$$<parameter path>"``): the kind's registered name."""
        return self.kind

    def register(self):
        """Register this model's networks with Pyro (``pyro.module``), as Pyro's
        ``examples/vae`` does at the top of its model and guide, so that ``pyro.infer.SVI``
        with a ``pyro.optim`` optimizer trains them; every kind calls it first in ``model``
        and ``guide``. A no-op under :class:`OwnParameters` (pyrovae's own trainer and
        estimators, which hold the parameters themselves).

        Raises :class:`~pyrovae.errors.PyroVAEError` if the param store already holds other
        tensors under this model's names (a previous model of the same kind): Pyro would
        silently keep training those and leave this model untouched."""
        if owns_parameters():
            return
        store = pyro.get_param_store()
        name = self.pyro_name
        for path, value in self.named_parameters():
            full = f"{name}$$${path}"
            if value.requires_grad and full in store._params and store._params[full] is not value:
                raise PyroVAEError(
                    f"Pyro's param store already holds a parameter {full!r} of another "
                    f"'{name}' model; call pyro.clear_param_store() before training a new model "
                    "with pyro.infer.SVI"
                )
        pyro.module(name, self)

    def model(self, x, y=None, kl_weight=1.0):
        raise NotImplementedError

    def guide(self, x, y=None, kl_weight=1.0):
        raise NotImplementedError

    def loss(self, objective: Any, x: torch.Tensor, y: torch.Tensor | None = None,
             kl_weight: float = 1.0) -> torch.Tensor:
        """The objective's loss on a batch (−ELBO summed over the batch), differentiable; the
        enumerated form of it for a kind that :attr:`enumerates`."""
        if self.enumerates:
            objective = self.enumerated(objective)
        return objective.differentiable_loss(self.model, self.guide, x, y, kl_weight=kl_weight)

    # -- what the estimators ask for --------------------------------------------------------

    def given(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """What the estimators condition on for examples with labels ``y``: ``y`` itself for a
        :attr:`conditional` kind, else ``None`` (an M2's labels are for its accuracy, not its
        ELBO, which sums y out)."""
        return y if self.conditional else None

    @property
    def kind(self) -> str:
        """The registered name of this model's kind."""
        return next((n for n in MODELS.names() if MODELS.get(n) is type(self)),
                    type(self).__name__)

    # -- pictures, derived from the programs ------------------------------------------------

    def _device(self):
        param = next(self.parameters(), None)
        if param is None:
            param = next(self.buffers(), None)
        return None if param is None else param.device

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """``n`` images E[x|z] with the latents drawn from the model itself (the prior), read off
        the model's trace at its observed site. ``y``: labels to condition on (a tensor, or an
        int for one class; a :attr:`conditional` kind cycles through its classes by default).
        A kind that reads an observed part of each example cannot sample from nothing
        (:attr:`unconditional_samples`) and is refused."""
        if not self.unconditional_samples:
            raise PyroVAEError(f"the '{self.kind}' model has no prior path from nothing to an "
                               "image: it completes observed parts of examples")
        device = self._device()
        if y is None and self.conditional:
            y = torch.arange(n, device=device) % self.num_classes
        if y is not None:
            y = label_tensor(y, n, device)
        return observed_mean(self, torch.zeros(n, *self.event_shape, device=device), y,
                             reconstruct=False)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x|z] at a draw of the latents from the guide (labels only for a
        :attr:`conditional` kind: an M2 infers its own)."""
        return observed_mean(self, x, self.given(y), reconstruct=True)

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable label under the guide's q(y|x), for a kind whose guide infers
        labels (:func:`pyrovae.infer.traces.classify`)."""
        return classify(self, x)

    def check_components(self, x: torch.Tensor, where: str) -> None:
        """Raise a :class:`~pyrovae.errors.PyroVAEError` naming the component that does not
        fit the others, on the example ``x`` (one, of the model's shape): called by the dry
        run when the model is built (:func:`~pyrovae.models.guards.dry_run`), before its programs are traced. A kind
        may check its components one by one here, for a clearer line than the programs'
        failure; by default nothing."""

    # -- data and evaluation ----------------------------------------------------------------

    def check_data(self, dataset: DataSet) -> None:
        """Refuse data that does not fit: wrong example shape, or values outside the
        likelihood's support (:class:`~pyrovae.errors.DataError`). Draws nothing from the
        global random streams."""
        if tuple(dataset.event_shape) != tuple(getattr(self, "event_shape", dataset.event_shape)):
            raise DataError(
                f"data set '{dataset.name}' has examples of shape {tuple(dataset.event_shape)} "
                f"but the model expects {tuple(self.event_shape)}; use the data the model was "
                "trained on"
            )
        caught = {}  # a warning about several splits is given once, naming them all
        for name in ("train", "valid", "test"):
            x = dataset.split(name).x
            if name == "train" and dataset.binarize == "dynamic":
                devices = [x.device] if x.device.type == "cuda" else []
                with torch.random.fork_rng(devices=devices):  # the run's streams untouched
                    x = binarize(x)  # what the likelihood will see: a fresh draw every epoch
            likelihood = getattr(self, "likelihood", None)
            if not hasattr(likelihood, "check_data"):
                break  # a model of the user's own without a pyrovae likelihood
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                likelihood.check_data(x, f"the {name} split of {dataset.name}")
            for record in records:
                text = str(record.message).replace(f"the {name} split", "the {splits}")
                caught.setdefault((text, record.category), []).append(name)
        for (text, category), names in caught.items():
            splits = (f"{names[0]} split" if len(names) == 1
                      else f"{', '.join(names[:-1])} and {names[-1]} splits")
            warnings.warn(text.replace("{splits}", splits).replace(" has ", " have ", 1)
                          if len(names) > 1 else text.replace("{splits}", splits), category,
                          stacklevel=2)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000,
                 num_samples: int = 1, world: World | None = None,
                 seed: int | None = None) -> dict[str, Any]:
        """ELBO, reconstruction and KL in nats per example with standard errors (see
        :func:`~pyrovae.infer.elbo.evaluate_elbo`; ``world`` shards the examples over
        data-parallel ranks) and, with labels, for a model that infers them
        (:func:`~pyrovae.infer.labels.infers_labels`), the accuracy of its q(y|x).

        The draws are keyed by ``seed`` and each example's index
        (:func:`~pyrovae.noise.evaluation_key`; default the seed torch's generator was last
        seeded with): the numbers do not depend on ``batch_size`` or the number of ranks, and
        two calls with the same key give the same numbers."""
        result = evaluate_elbo(self, x, batch_size=batch_size, num_samples=num_samples,
                               world=world, y=self.given(y), seed=seed)
        if y is not None and infers_labels(self, x):
            result["accuracy"], result["accuracy_stderr"] = accuracy(self, x, y, batch_size,
                                                                     world, seed=seed)
        return result


guard(LatentVariableModel)
