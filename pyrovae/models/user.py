"""Models of your own: any torch module with the Pyro programs ``model`` and ``guide``.

pyrovae derives every estimator from a model's traces (:mod:`pyrovae.infer.traces`), so a model
it does not define trains, resumes, evaluates (``--iwae-k`` included), compares, samples and
plots like a shipped kind. On the command line it is named by where it lives::

    pyrovae train --model path/to/two_layer.py:TwoLayer --set model.z1=32
    pyrovae train --model mypackage.models:TwoLayer

and its options are the ``[model]`` keys, checked against the keywords of its
``build(event_shape, **options)`` classmethod, or of its constructor when it has no ``build``
(``event_shape`` and ``num_classes`` are passed by pyrovae when the signature names them), with
the closest match for a typo. The class is either

* a :class:`~pyrovae.models.base.LatentVariableModel` subclass: a kind like the shipped ones; or
* any ``nn.Module`` (a ``PyroModule`` too) with ``model(x, y=None, kl_weight=1.0)`` and
  ``guide(x, y=None, kl_weight=1.0)`` (``y`` and ``kl_weight`` may be left out of the
  signatures): it is wrapped in a :class:`UserModel`, the kind pyrovae's trainer, estimators
  and run files see. Its parameters are the module's (registered with ``pyro.module`` in the
  programs for plain Pyro, as Pyro's ``examples/vae`` does, or not at all: pyrovae's trainer
  optimizes ``module.parameters()``). A class may declare what a kind declares, as class
  attributes: ``uses_labels``, ``conditional``, ``max_plate_nesting``, ``components``, ...,
  and define what a kind may define (``loss``, ``sample``, ``reconstruct``, ``figures``,
  ``classify``, ``codes``, ``check_config``): the wrapper hands those on.

From Python, :func:`as_model` wraps an instance: ``pv.Trainer(as_model(TwoLayer((1, 8, 8))))``.

A spec is loaded once per process (:func:`load_model`, the loader of
:data:`~pyrovae.models.base.MODELS`) and registered under itself; a run records the spec in
``model.kind`` and, for a file, the file's SHA-256 (:mod:`pyrovae.plugins`). A class registered
by name (``@pv.MODELS.register("two-layer")`` in a module of ``--import`` or a plugin) is
wrapped the same way when the registry hands it out.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence

import pyro
import torch
from pyro import poutine
from torch import nn

from ..data import binarize
from ..errors import DataError, PyroVAEError
from ..infer.traces import ProgramError, check_programs
from ..params import OwnParameters
from ..plugins import PluginError, import_target, short_name, split_spec
from ..registry import article, closest
from .base import MODELS, LatentVariableModel

__all__ = ["UserModel", "as_model", "check_model", "load_model", "model_class"]

#: class attributes a user's class may set, handed on to its wrapper
DECLARATIONS = ("max_plate_nesting", "data_plate", "components", "uses_labels",
                "needs_every_label", "checked_options", "conditional", "unconditional_samples",
                "auto_binarize", "enumerates")
#: methods a user's class may define, handed on to its wrapper (else the derived ones)
HANDED_ON = ("loss", "sample", "reconstruct", "figures", "classify", "codes")


class UserModel(LatentVariableModel):
    """A model of the user's own that is not a
    :class:`~pyrovae.models.base.LatentVariableModel`, as a kind: its programs, parameters and
    declarations are those of the wrapped module :attr:`inner` (whose weights are saved under
    ``inner.``); everything else (the estimators, sampling, reconstruction) is derived from the
    programs. Made per class by :func:`model_class`.

    :param inner: the user's module.
    :param tuple event_shape: the shape of one example.
    """

    #: the user's class (set on each class :func:`model_class` makes)
    user_class = None
    _takes = {}

    def __init__(self, inner, event_shape):
        super().__init__()
        self.inner = inner
        self.event_shape = tuple(event_shape)

    @classmethod
    def build(cls, event_shape, num_classes=None, **options):
        """The user's ``build`` (or constructor) called with ``options``, and ``event_shape``
        and ``num_classes`` where its signature names them, then wrapped."""
        factory = _factory(cls.user_class)
        wanted = [p.name for p in _parameters(cls.user_class)]
        context = {"event_shape": tuple(event_shape), "num_classes": num_classes}
        extra = {k: v for k, v in context.items() if k in wanted}
        return cls(factory(**extra, **options), event_shape)

    @classmethod
    def check_config(cls, config):
        """A β ≠ 1 (``model.kl_weight``, ``model.kl_warmup_epochs``) needs programs that take
        ``kl_weight``; then the user's own ``check_config``, if any."""
        super().check_config(config)
        beta = config.model.kl_weight != 1 or config.model.kl_warmup_epochs > 0
        lacking = [p for p in ("model", "guide") if "kl_weight" not in cls._takes.get(p, ())]
        if beta and lacking:
            raise PyroVAEError(
                f"model.kl_weight / kl_warmup_epochs weight the KL, but {cls.__name__}."
                f"{lacking[0]} takes no kl_weight argument; add kl_weight=1.0 to its model and "
                "guide and scale the latent sites by it (pyrovae.models.base.kl_scale), or drop "
                "those settings"
            )
        own = getattr(cls.user_class, "check_config", None)
        if own is not None:
            own(config)

    @property
    def pyro_name(self):
        return type(self).__name__

    @property
    def likelihood(self):
        """The module's ``likelihood`` if it has one (a pyrovae
        :class:`~pyrovae.likelihoods.Likelihood`: the data are checked against its support),
        else ``None`` (they are checked against the support of the observed site)."""
        likelihood = getattr(self.inner, "likelihood", None)
        return likelihood if hasattr(likelihood, "check_data") else None

    @property
    def num_classes(self):
        return getattr(self.inner, "num_classes", None)

    def register(self):
        """The user's programs register their parameters themselves (or not at all)."""

    def model(self, x, y=None, kl_weight=1.0):
        return _call(self.inner.model, self._takes["model"], x, y, kl_weight)

    def guide(self, x, y=None, kl_weight=1.0):
        return _call(self.inner.guide, self._takes["guide"], x, y, kl_weight)

    def check_data(self, dataset):
        """The example shape; the values against the likelihood's support, or, for a module
        without a pyrovae likelihood, against the support of the model's observed site."""
        super().check_data(dataset)
        if self.likelihood is None:
            _check_support(self, dataset)


def _call(program, takes, x, y, kl_weight):
    kwargs = {}
    if "kl_weight" in takes:
        kwargs["kl_weight"] = kl_weight
    if "y" in takes:
        return program(x, y, **kwargs)
    return program(x, **kwargs)


def _factory(cls):
    """What builds an instance of ``cls``: its ``build`` classmethod, else the class."""
    build = getattr(cls, "build", None)
    return build if callable(build) else cls


def _parameters(cls):
    """The parameters of ``cls``'s ``build``, or of its ``__init__`` without ``self`` (not
    the class's own signature, which a metaclass such as ``PyroModule``'s may hide)."""
    build = getattr(cls, "build", None)
    if callable(build):
        return list(inspect.signature(build).parameters.values())
    return list(inspect.signature(cls.__init__).parameters.values())[1:]


def _options(cls):
    """The keyword parameters of ``cls``'s ``build`` or constructor, without ``event_shape``
    and ``num_classes`` (which pyrovae passes): its ``[model]`` options."""
    return [p for p in _parameters(cls) if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in ("event_shape", "num_classes")]


def _arguments(method):
    params = inspect.signature(method).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return {"x", "y", "kl_weight"}
    names = [n for n, p in params.items() if p.kind != p.VAR_POSITIONAL]
    names = names[1:] if names and names[0] == "self" else names
    return set(names)


_WRAPPERS = {}


def model_class(obj, where="the model"):
    """The :class:`~pyrovae.models.base.LatentVariableModel` class for ``obj``, a class of the
    user's: itself if it is one, else a :class:`UserModel` made for it (once per class).

    :raises PluginError: one line: not a class, not a torch module, or lacking ``model`` or
        ``guide``.
    """
    name = getattr(obj, "__name__", repr(obj))
    if not inspect.isclass(obj):
        raise PluginError(f"{where}: {name} is {article(type(obj).__name__, letters=False)}, "
                          "not a class; name the class of your model")
    if not issubclass(obj, nn.Module):
        raise PluginError(f"{where}: {name} is not a torch.nn.Module (nor a PyroModule); a "
                          "model of your own is a module whose networks are its children")
    for program in ("model", "guide"):
        method = getattr(obj, program, None)
        if not callable(method) or method is getattr(LatentVariableModel, program):
            raise PluginError(
                f"{where}: {name} has no '{program}' method; a model of your own has the Pyro "
                f"programs model(x, y=None, kl_weight=1.0) and guide(x, y=None, kl_weight=1.0)"
            )
    if issubclass(obj, LatentVariableModel):
        return obj
    if obj in _WRAPPERS:
        return _WRAPPERS[obj]
    attrs = {"user_class": obj, "__doc__": obj.__doc__, "__module__": obj.__module__,
             "__qualname__": obj.__qualname__,
             "_takes": {p: _arguments(getattr(obj, p)) for p in ("model", "guide")}}
    for attr in DECLARATIONS:
        if hasattr(obj, attr):
            attrs[attr] = getattr(obj, attr)
    for method in HANDED_ON:
        if callable(getattr(obj, method, None)):
            attrs[method] = _hand_on(method)

    def build(cls, event_shape, num_classes=None, **options):
        return UserModel.build.__func__(cls, event_shape, num_classes, **options)

    P = inspect.Parameter
    build.__signature__ = inspect.Signature(
        [P("cls", P.POSITIONAL_OR_KEYWORD), P("event_shape", P.POSITIONAL_OR_KEYWORD),
         P("num_classes", P.POSITIONAL_OR_KEYWORD, default=None),
         *(p.replace(kind=P.KEYWORD_ONLY) for p in _options(obj))])
    build.__doc__ = inspect.getdoc(_factory(obj))
    attrs["build"] = classmethod(build)
    wrapper = type(obj.__name__, (UserModel,), attrs)
    _WRAPPERS[obj] = wrapper
    return wrapper


def _hand_on(method):
    def handed_on(self, *args, **kwargs):
        return getattr(self.inner, method)(*args, **kwargs)

    handed_on.__name__ = method
    return handed_on


def load_model(spec):
    """The model class that ``spec`` (``"path/to/file.py:ClassName"`` or
    ``"package.module:ClassName"``) names, registered in
    :data:`~pyrovae.models.base.MODELS` under ``spec``; ``None`` if ``spec`` is not of that
    form (then it is an unknown kind).

    :raises PluginError: one line: the file or module is missing or fails to import, it does
        not define the class, or the class is not a model (:func:`model_class`).
    """
    parts = split_spec(spec)
    if parts is None:
        return None
    target, name = parts
    where = f"model.kind = '{spec}'"
    if not target or not name.isidentifier():
        raise PluginError(f"{where}: a model of your own is path/to/file.py:ClassName or "
                          "package.module:ClassName")
    module = import_target(target, where)
    obj = getattr(module, name, None)
    if obj is None:
        exported = set(getattr(module, "__all__", ()))  # a package's classes from its modules
        classes = [n for n, v in vars(module).items() if inspect.isclass(v)
                   and (v.__module__ == module.__name__ or n in exported)]
        defined = f"it defines {', '.join(classes)}" if classes else "it defines no class"
        raise PluginError(f"{where}: {target} defines no '{name}'{closest(name, classes)}; "
                          f"{defined}")
    cls = model_class(obj, where)
    MODELS.register(spec, cls)
    return cls


def as_model(module: nn.Module, event_shape: Sequence[int] | None = None) -> LatentVariableModel:
    """``module`` as a kind pyrovae's :class:`~pyrovae.training.Trainer` and estimators take:
    itself if it is a :class:`~pyrovae.models.base.LatentVariableModel`, else wrapped in a
    :class:`UserModel` (the same parameters, not copies).

    :param tuple event_shape: the shape of one example (default ``module.event_shape``).
    """
    if isinstance(module, LatentVariableModel):
        return module
    wrapper = model_class(type(module))
    shape = event_shape if event_shape is not None else getattr(module, "event_shape", None)
    if shape is None:
        raise PyroVAEError(f"as_model({type(module).__name__}): give event_shape, the shape of "
                           "one example (the module has no event_shape attribute)")
    return wrapper(module, shape)


def check_model(module, x, y=None):
    """Trace the model and guide once on the examples ``x`` (labels ``y``) before any work
    (:func:`~pyrovae.infer.traces.check_programs`), so that a model that the estimators cannot
    read, or whose programs fail on the data, is refused in one line: programs missing, no
    ``"data"`` plate, latent sites that do not match between model and guide, nothing
    observed, or an error raised inside the programs."""
    name = short_name(getattr(module, "kind", type(module).__name__))
    try:
        with torch.no_grad():
            check_programs(module, x, y)
    except PyroVAEError as e:
        raise ProgramError(f"the '{name}' model: {e}") from e
    except Exception as e:
        raise ProgramError(
            f"the '{name}' model failed on {x.shape[0]} examples of shape "
            f"{tuple(x.shape[1:])}: {type(e).__name__}: {' '.join(str(e).split())}; check its "
            "programs and networks against the data"
        ) from e


def _check_support(module, dataset, n=1000):
    """The first ``n`` examples of every split against the support of the model's observed
    site (read off one trace): a binary support on grey levels warns once (a cross-entropy,
    not a density), any other violation is a :class:`~pyrovae.errors.DataError`. A model whose
    programs fail here is left to :func:`check_model`."""
    grey = []
    for name in ("train", "valid", "test"):
        x = dataset.split(name).x[:n]
        if x.shape[0] == 0:
            continue
        if name == "train" and dataset.binarize == "dynamic":
            x = binarize(x)
        try:
            with torch.no_grad(), OwnParameters(), pyro.validation_enabled(False):
                guide = poutine.trace(module.guide).get_trace(x)
                trace = poutine.trace(poutine.replay(module.model, trace=guide)).get_trace(x)
        except Exception:
            return
        for site in trace.nodes.values():
            if site["type"] != "sample" or not site["is_observed"] or site["value"] is not x:
                continue
            try:
                ok = bool(site["fn"].support.check(x).all())
            except Exception:
                continue
            if ok:
                continue
            fn, support = site["fn"], site["fn"].support
            while isinstance(fn, torch.distributions.Independent):
                fn = fn.base_dist
            support = getattr(support, "base_constraint", support)
            what = (f"the model's site '{site['name']}' ({type(fn).__name__}, support "
                    f"{support})")
            if "boolean" in type(support).__name__.lower():
                grey.append(name)
                continue
            raise DataError(f"the {name} split of {dataset.name} has values outside the support "
                            f"of {what}; transform the data or change the model's distribution")
    if grey:
        splits = (f"{grey[0]} split has" if len(grey) == 1
                  else f"{', '.join(grey[:-1])} and {grey[-1]} splits have")
        warnings.warn(f"the {splits} values in (0, 1), outside the binary support of {what}: "
                      "its log-density is then a cross-entropy, not a density; binarize them "
                      "with data.binarize = \"dynamic\"", stacklevel=3)
