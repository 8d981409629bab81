"""The checks at a model's entry points: where a caller's values enter a model kind.

:class:`~pyrovae.models.base.LatentVariableModel` calls :func:`guard` on itself and on every
subclass when it is defined, which wraps the ``build``, ``loss``, ``evaluate``, ``sample``,
``reconstruct`` and ``classify`` the class defines with the checks of their arguments
(:mod:`pyrovae.checks`): a bad argument is one typed line (``VAE.build: z_dim must be a positive
int, got -1``) for the shipped kinds and a kind of the user's own alike, and no kind repeats the
checks. Only the outermost call checks: what it calls (``super().build``, a kind's ``sample``
calling the base's, an estimator of :mod:`pyrovae.infer`) runs as it is, and
:func:`~pyrovae.checks.unchecked` skips them for data checked already.

``build`` checks the example shape and, for a shipped kind, every option by the type of its
default, refuses sizes beyond this machine's memory before allocating (counting the parameters
on the meta device), and dry-runs the built model on one example (:func:`dry_run`), so a
component built from a bad object is refused then, not at the first step. ``evaluate`` also
refuses values outside the likelihood's support. ``loss`` runs on every step: it reads shapes
and dtypes only, never a value.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings

import pyro
import torch

from .. import checks
from ..checks import support as check_support
from ..checks import unchecked
from ..errors import ConfigError, DataError, PyroVAEError
from ..infer.traces import ProgramError, check_programs
from ..memory import require
from ..params import OwnParameters
from ..registry import closest

__all__ = ["check_support", "dry_run", "guard", "unchecked"]

#: sizes beyond this (a width, a latent size, pixels per example) are worth a build on the
#: meta device first, which counts the parameters without allocating them
_LARGE = 2**20


def _entry(method, around):
    """``method`` run by ``around(first, signature, args, kwargs, call)``, ``call()`` running
    it; calls made inside are not checked again."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def checked(first, *args, **kwargs):
        if checks.inside():
            return method(first, *args, **kwargs)
        with unchecked():
            return around(first, signature, args, kwargs,
                          lambda: method(first, *args, **kwargs))

    checked.__pyrovae_checked__ = True
    return checked


def guard(cls):
    """Wrap the entry points ``cls`` defines itself with their checks."""
    for name, around in _AROUND.items():
        attr = cls.__dict__.get(name)
        if attr is None:
            continue
        is_classmethod = isinstance(attr, classmethod)
        function = attr.__func__ if is_classmethod else attr
        if not callable(function) or getattr(function, "__pyrovae_checked__", False):
            continue
        wrapped = _entry(function, around)
        setattr(cls, name, classmethod(wrapped) if is_classmethod else wrapped)


def _where(first, method):
    cls = first if isinstance(first, type) else type(first)
    return f"{cls.__name__}.{method}"


def _bind(signature, first, args, kwargs, where):
    """The call's arguments by name (defaults filled in); a wrong call is a
    :class:`~pyrovae.errors.ConfigError` naming the closest keyword."""
    try:
        bound = signature.bind(first, *args, **kwargs)
    except TypeError as e:
        names = [n for n in signature.parameters][1:]
        hint = next((closest(k, names) for k in kwargs if k not in signature.parameters), "")
        raise ConfigError(f"{where}: {e}{hint}; its arguments are: {', '.join(names)}") from None
    bound.apply_defaults()
    return bound.arguments


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _component(value, name, where):
    """A component argument: a name, a ``{"name": ..., **options}`` table, a
    :class:`~pyrovae.config.Component`, or an object (checked by the dry run). Returns the
    widths its table asks for (``hidden``), checked against memory."""
    if isinstance(value, str):
        return []
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str):
            raise ConfigError(f"{where}: the {name} table needs a 'name' key naming a "
                              f"registered {name}, got {checks.short_repr(value)}")
        widths = []
        for key in ("hidden", "channels"):
            sizes = value.get(key)
            if _is_int(sizes):  # one width (the iaf guide's hidden)
                sizes = [sizes]
            if isinstance(sizes, (list, tuple)):
                widths += [checks.size(h, f"{name}[{key!r}][{i}]", where)
                           for i, h in enumerate(sizes) if _is_int(h)]
        # any other count (components, levels, layers) may decide an allocation too: it
        # counts towards the build on the meta device (checked by the component itself)
        for key, option in value.items():
            if _is_int(option) and option > 0 and key not in ("hidden", "channels"):
                widths.append(option)
            elif isinstance(option, (list, tuple)) and key not in ("hidden", "channels"):
                widths += [v for v in option if _is_int(v) and v > 0]
        return widths
    if hasattr(value, "name") and hasattr(value, "options") and not callable(value):
        return _component(value.to_dict() if hasattr(value, "to_dict") else
                          {"name": value.name, **dict(value.options)}, name, where)
    if not callable(value):
        raise ConfigError(
            f"{where}: {name} must be the name of a registered {name} (a str), a "
            f"{{\"name\": ..., **options}} table or a {name} object (an nn.Module), got "
            f"{checks.got(value)}")
    return []


def _label_prior(value, where):
    if isinstance(value, str) and value == "uniform":
        return
    ok = (isinstance(value, (list, tuple)) and len(value) > 1
          and all(isinstance(p, numbers.Real) and not isinstance(p, bool)
                  and math.isfinite(p) and p > 0 for p in value))
    if not ok or abs(sum(value) - 1) > 1e-6:
        raise ConfigError(f"{where}: label_prior must be \"uniform\" or a list of positive "
                          f"class probabilities summing to 1, got {checks.short_repr(value)}")


def _check_options(cls, signature, arguments, where):
    """The options of a shipped kind by the type of their defaults: an int is a size (a
    positive int, checked against memory), a bool a bool, a float a finite number (``alpha``
    ≥ 0), a str a str; components by :func:`_component`. Returns the sizes asked for."""
    sizes = []
    for name, param in list(signature.parameters.items())[1:]:
        if name in ("event_shape", "num_classes") or name not in arguments:
            continue
        value, default = arguments[name], param.default
        if value is default:
            continue
        if name in cls.components:
            sizes += _component(value, name, where)
        elif name == "label_prior":
            _label_prior(value, where)
        elif name == "hidden":
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: hidden must be a list of positive ints (layer "
                                  f"widths), got {checks.got(value)}")
            sizes += [checks.size(h, f"hidden[{i}]", where) for i, h in enumerate(value)]
        elif isinstance(default, bool):
            checks.boolean(value, name, where)
        elif _is_int(default):
            sizes.append(checks.size(value, name, where))
        elif isinstance(default, float):
            checks.number(value, name, where, minimum=0.0 if name == "alpha" else None)
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be a str, got {checks.got(value)}")
    return sizes


def _parameter_bytes(call):
    """The bytes of the parameters and buffers that ``call()`` would allocate, counted on the
    meta device (nothing allocated); ``None`` where the build cannot run there."""
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = call()
    except PyroVAEError:
        raise
    except Exception:
        return None
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _around_build(cls, signature, args, kwargs, call):
    """``build``: the example shape, the label count and (for a shipped kind) every option
    checked; a request beyond this machine's memory refused before anything is allocated;
    then the model built and dry-run on one example (:func:`dry_run`)."""
    where = _where(cls, "build")
    arguments = _bind(signature, cls, args, kwargs, where)
    sizes = []
    if "event_shape" in arguments:
        shape = checks.shape(arguments["event_shape"], "event_shape", where)
        sizes.append(math.prod(shape))
    if arguments.get("num_classes") is not None:
        checks.integer(arguments["num_classes"], "num_classes", where, minimum=1)
    if cls.__module__.startswith("pyrovae."):
        sizes += _check_options(cls, signature, arguments, where)
    if sizes and max(sizes) > _LARGE:
        # the parameters and buffers counted on the meta device, and at least a float for
        # each unit of the largest size (a component's plain tensors are not counted there)
        nbytes = max(_parameter_bytes(call) or 0, checks.FLOAT_BYTES * max(sizes))
        require(nbytes, f"{where}: the parameters of this model",
                "choose smaller sizes (latent sizes, widths, components, levels)")
    module = call()
    # a kind of the user's own is traced by check_model before training, in its own words
    if (cls.__module__.startswith("pyrovae.") and hasattr(module, "check_components")
            and getattr(module, "event_shape", None)):
        dry_run(module, where)
    return module


def dry_run(module, where=None):
    """Trace the model and guide once on one example (zeros, or the likelihood's
    :meth:`~pyrovae.likelihoods.Likelihood.example` value, of the model's event shape and
    dtype; the first label for a :attr:`~LatentVariableModel.conditional` kind), so that a
    component built from a bad object (a decoder of the wrong output shape, a prior that is
    not one) is refused in one line when the model is built, not at the first step."""
    where = where or f"{type(module).__name__}.build"
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = module._device()
    likelihood = getattr(module, "likelihood", None)
    value = getattr(likelihood, "example_value", 0.0)
    x = torch.full((1, *module.event_shape), float(value), dtype=dtype, device=device)
    y = (torch.zeros(1, dtype=torch.long, device=device)
         if module.conditional and getattr(module, "num_classes", None) else None)
    devices = [device] if device is not None and device.type == "cuda" else []
    try:  # the global random streams untouched: building a model draws nothing more
        with torch.random.fork_rng(devices=devices), torch.no_grad(), OwnParameters(), \
                pyro.validation_enabled(False), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module.check_components(x, where)
            check_programs(module, x, y)
    except PyroVAEError as e:
        if str(e).startswith(f"{where}: "):  # a component named by check_components
            raise
        raise ProgramError(f"{where}: the {module.kind} model built from these components "
                           f"fails on one example: {e}") from e
    except Exception as e:
        # Pyro appends the trace's shapes to an error inside a program: not for one line
        detail = " ".join(str(e).split("Trace Shapes:")[0].split()) or type(e).__name__
        raise ProgramError(
            f"{where}: the {module.kind} model built from these components fails on one "
            f"example of shape {tuple(module.event_shape)}: {type(e).__name__}: {detail}; "
            "check that each object passed (decoder, encoder, prior, ...) fits the others "
            "(a decoder must return (N, P, *event_shape), P the likelihood's "
            "params_per_pixel; a prior's forward() returns p(z))"
        ) from e


def _model_dtype(module):
    param = next(module.parameters(), None)
    return None if param is None else param.dtype


def _check_x(module, x, where, finite=True):
    return checks.tensor(x, "x", where, event_shape=getattr(module, "event_shape", None),
                         dtype=_model_dtype(module), device=module._device(), finite=finite)


def _check_y(module, y, n, where):
    if y is None:
        return None
    return checks.labels(y, "y", where, n=n, num_classes=getattr(module, "num_classes", None),
                         device=module._device())


def _around_loss(self, signature, args, kwargs, call):
    """``loss``: on every training step, so only what reads no values (type, dtype, shape),
    and the full check only when a quick look finds something wrong."""
    x = args[1] if len(args) > 1 else kwargs.get("x")
    shape = getattr(self, "event_shape", None)
    if not (isinstance(x, torch.Tensor) and x.dtype.is_floating_point
            and (shape is None or tuple(x.shape[1:]) == tuple(shape))):
        checks.batch(x, "x", _where(self, "loss"), event_shape=shape, dtype=_model_dtype(self))
    y = args[2] if len(args) > 2 else kwargs.get("y")
    if y is not None and not isinstance(y, torch.Tensor):  # (a paired batch has fewer labels)
        raise DataError(f"{_where(self, 'loss')}: y must be None or a tensor of labels, got "
                        f"{checks.got(y)}; convert it with torch.as_tensor(y, dtype=torch.long)")
    return call()


def _around_evaluate(self, signature, args, kwargs, call):
    """``evaluate``: the examples (a float tensor of the model's shape, dtype and device,
    finite, in the likelihood's support), the labels, the sizes (against memory)."""
    where = _where(self, "evaluate")
    arguments = _bind(signature, self, args, kwargs, where)
    x = _check_x(self, arguments["x"], where)
    _check_y(self, arguments.get("y"), x.shape[0], where)
    batch_size = checks.integer(arguments.get("batch_size", 1000), "batch_size", where,
                                minimum=1, error=ConfigError)
    samples = checks.integer(arguments.get("num_samples", 1), "num_samples", where, minimum=1,
                             error=ConfigError)
    if arguments.get("seed") is not None:
        checks.integer(arguments["seed"], "seed", where, minimum=0, error=ConfigError)
    rows = min(batch_size, x.shape[0]) * samples
    require(rows * math.prod(x.shape[1:]) * x.element_size(),
            f"{where}: batch_size = {batch_size} with num_samples = {samples}",
            "lower batch_size or num_samples", device=x.device)
    check_support(self, x, where)
    return call()


def _around_sample(self, signature, args, kwargs, call):
    """``sample``: a positive count (against memory), labels of the model's classes."""
    where = _where(self, "sample")
    try:
        arguments = _bind(signature, self, args, kwargs, where)
    except ConfigError:
        return call()  # a user's own sample with a signature of its own
    if "n" not in arguments:
        return call()
    n = checks.integer(arguments["n"], "n", where, minimum=1)
    shape = getattr(self, "event_shape", None) or (1,)
    require(n * math.prod(shape) * 4 * 3, f"{where}: n = {n} images",
            "draw fewer at a time", device=self._device() or "cpu")
    y, k = arguments.get("y"), getattr(self, "num_classes", None)
    if y is not None and k is not None:
        if _is_int(y):
            checks.integer(y, "y", where, minimum=0, maximum=k - 1, error=DataError)
        else:
            checks.labels(y, "y", where, n=n, num_classes=k, device=self._device())
    elif y is not None and not (_is_int(y) or torch.is_tensor(y)):
        raise DataError(f"{where}: y must be an int label or a tensor of n labels, got "
                        f"{checks.got(y)}")
    return call()


def _around_examples(method):
    def around(self, signature, args, kwargs, call):
        where = _where(self, method)
        try:
            arguments = _bind(signature, self, args, kwargs, where)
        except ConfigError:
            return call()
        if "x" in arguments:
            x = _check_x(self, arguments["x"], where)
            if "y" in arguments:
                _check_y(self, arguments["y"], x.shape[0], where)
        return call()

    return around


_AROUND = {"build": _around_build, "loss": _around_loss, "evaluate": _around_evaluate,
           "sample": _around_sample, "reconstruct": _around_examples("reconstruct"),
           "classify": _around_examples("classify")}
