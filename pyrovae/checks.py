"""Argument and tensor checks for the places where a caller's values enter the library.

Every public entry point of the Python API (a model kind's ``build``, ``evaluate``, ``sample``,
``reconstruct``, ``classify`` and ``loss``, the :class:`~pyrovae.training.Trainer`, the
package-level functions) checks what it is given with these functions before any work, so a bad
value is one line raised as a :class:`~pyrovae.errors.PyroVAEError` subclass, in the caller's
terms::

    VAE.build: z_dim must be a positive int, got -1
    VAE.evaluate: x must be a torch.Tensor, got numpy.ndarray; convert it with
    torch.as_tensor(x, dtype=torch.float32)

instead of a traceback from deep inside torch, Pyro or NumPy. Each check takes ``where`` (the
function the caller called, ``"VAE.build"``) and ``name`` (the argument), and returns the value
in its plain form (an ``int``, a ``float``, a tuple). Sizes that decide an allocation go through
:func:`pyrovae.memory.require` before anything is allocated.

The checks read a tensor's values (finite, in range) only where data enter once (``evaluate``,
``fit``); the per-step path (``loss``) uses :func:`batch`, which reads only shapes and dtypes, so
it never waits on the device.

A function checks its arguments where it is defined, with the decorator :func:`arguments`, so
every caller gets the check: ``pyrovae.fit`` and ``pyrovae.training.fit`` are one function, and
refuse the same bad call in the same words (``pyrovae.fit: config must be a pyrovae Config, got
dict``). Data checked already are not read again: inside :func:`unchecked` (the trainer's
validation at every epoch) and inside a call that checked them (``VAE.evaluate`` calling
:func:`~pyrovae.infer.elbo.evaluate_elbo`), a check made ``outermost`` is skipped.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import math
import numbers
import operator
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import torch

from .errors import ConfigError, DataError
from .memory import require
from .registry import closest

__all__ = ["arguments", "batch", "boolean", "callable_or_none", "choice", "device", "got",
           "inside", "integer", "labels", "number", "path", "probability", "shape", "short_repr",
           "size", "support", "tensor", "type_name", "unchecked"]

#: the advice for an array that is not a tensor
CONVERT = "convert it with torch.as_tensor(x, dtype=torch.float32)"
#: bytes of one float32 entry: the least a unit of a network or an example's pixel costs
FLOAT_BYTES = 4


def type_name(value):
    """``numpy.ndarray``, ``list``, ``Tensor``: the type of ``value`` as a caller knows it."""
    cls = type(value)
    module = cls.__module__
    if module in ("builtins", None):
        return cls.__qualname__
    top = module.split(".")[0]
    return f"{top}.{cls.__qualname__}" if top in ("numpy", "pandas", "jax") else cls.__qualname__


def short_repr(value, limit=60):
    """``repr(value)``, shortened to ``limit`` characters."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type_name(value)}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _prefix(where):
    return f"{where}: " if where else ""


def _int_kind(minimum):
    return ("a positive int" if minimum == 1 else "an int ≥ 0" if minimum == 0
            else "an int" if minimum is None else f"an int ≥ {minimum}")


def got(value):
    """What a message shows of a value of the wrong type: ``2.5``, ``'16' (str)``."""
    if isinstance(value, float):
        return repr(value)
    return f"{short_repr(value)} ({type_name(value)})"


def integer(value, name, where="", *, minimum=None, maximum=None, error=ConfigError):
    """``value`` as an ``int`` in [``minimum``, ``maximum``]; a bool, float, str or anything
    else that is not an integer is refused (a float with an integer value too: ``2.0`` is not
    a count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{_prefix(where)}{name} must be {_int_kind(minimum)}, got {got(value)}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise error(f"{_prefix(where)}{name} must be {_int_kind(minimum)}, got {value}")
    if maximum is not None and value > maximum:
        raise error(f"{_prefix(where)}{name} must be at most {maximum}, got {value}")
    return value


def size(value, name, where="", *, per_unit=FLOAT_BYTES, minimum=1, error=ConfigError,
         device="cpu"):
    """A positive int that decides an allocation (a width, a latent size, a count): refused
    as :func:`integer` does, then by :func:`pyrovae.memory.require` when ``value ×
    per_unit`` bytes (at least one float per unit) exceed the memory there is."""
    value = integer(value, name, where, minimum=minimum, error=error)
    require(value * per_unit, f"{_prefix(where)}{name} = {value}",
            f"choose a smaller {name}", error=error, device=device)
    return value


def number(value, name, where="", *, minimum=None, maximum=None, above=None, error=ConfigError):
    """``value`` as a finite ``float``, ≥ ``minimum`` (or > ``above``) and ≤ ``maximum``; a
    bool, a str, NaN and ±inf are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{_prefix(where)}{name} must be a number, got {got(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{_prefix(where)}{name} must be a finite number, got {value}")
    if above is not None and not value > above:
        raise error(f"{_prefix(where)}{name} must be a number > {above:g}, got {value:g}")
    if minimum is not None and value < minimum:
        raise error(f"{_prefix(where)}{name} must be a number ≥ {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise error(f"{_prefix(where)}{name} must be a number ≤ {maximum:g}, got {value:g}")
    return value


def probability(value, name, where="", error=ConfigError):
    """A number in [0, 1]."""
    return number(value, name, where, minimum=0.0, maximum=1.0, error=error)


def boolean(value, name, where="", *, none=False, error=ConfigError):
    """``True`` or ``False`` (``None`` too where ``none``); 0, 1 and strings are refused."""
    if value is None and none:
        return None
    if not isinstance(value, bool):
        also = " or None" if none else ""
        raise error(f"{_prefix(where)}{name} must be True or False{also}, got {short_repr(value)}")
    return value


def choice(value, name, choices, where="", error=ConfigError):
    """One of ``choices`` (strings); a str that is not one is answered with the closest."""
    if not isinstance(value, str) or value not in choices:
        shown, hint = ((short_repr(value), closest(value, choices)) if isinstance(value, str)
                       else (got(value), ""))
        raise error(f"{_prefix(where)}{name} must be one of {', '.join(map(repr, choices))}, "
                    f"got {shown}{hint}")
    return value


def path(value, name, where="", *, none=False, error=ConfigError):
    """A path: a ``str`` or an ``os.PathLike`` such as ``pathlib.Path`` (``None`` too where
    ``none``); whether it exists is for the function that reads it to say."""
    if value is None and none:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise error(f"{_prefix(where)}{name} must be a path (a str or pathlib.Path), got "
                    f"{got(value)}")
    return value


def device(value, name, where="", *, none=False, error=ConfigError):
    """A device: a ``str`` such as ``"cpu"`` or ``"cuda:0"`` (its name is checked where it is
    resolved, :func:`pyrovae.device.resolve_device`) or a ``torch.device`` (``None`` too where
    ``none``)."""
    if value is None and none:
        return None
    if not isinstance(value, (str, torch.device)):
        raise error(f"{_prefix(where)}{name} must be a str such as \"cpu\" or \"cuda:0\", got "
                    f"{got(value)}")
    return value


def callable_or_none(value, name, where="", error=ConfigError):
    """A function (or ``None``)."""
    if value is not None and not callable(value):
        raise error(f"{_prefix(where)}{name} must be a function or None, got {short_repr(value)} "
                    f"({type_name(value)})")
    return value


def shape(value, name, where="", error=ConfigError):
    """A tuple of positive ints (a list or ``torch.Size`` too): the shape of one example. An
    int is refused with the advice to write ``(n,)``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        raise error(f"{_prefix(where)}{name} must be a tuple of positive ints, the shape of one "
                    f"example, got the int {value}; write ({value},) for vectors of {value}")
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, torch.Size)):
        raise error(f"{_prefix(where)}{name} must be a tuple of positive ints, the shape of one "
                    f"example (e.g. (1, 28, 28)), got {short_repr(value)} ({type_name(value)})")
    if len(value) == 0:
        raise error(f"{_prefix(where)}{name} must have at least one dimension, got (); write "
                    "(1,) for scalar examples")
    dims = []
    for d in value:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise error(f"{_prefix(where)}{name} must be a tuple of positive ints, got "
                        f"{short_repr(tuple(value))}")
        dims.append(operator.index(d))
    numel = math.prod(dims)
    require(numel * FLOAT_BYTES, f"{_prefix(where)}examples of shape {tuple(dims)}",
            f"choose a smaller {name}", error=error)
    return tuple(dims)


def tensor(x, name, where="", *, event_shape=None, dtype=None, device=None, empty=False,
           finite=True, error=DataError):
    """``x`` as a batch of examples: a floating ``torch.Tensor`` of shape ``(N, *event_shape)``
    (N ≥ 1 unless ``empty``), of dtype ``dtype`` (the model's parameters'; default float32 or
    torch's default dtype), on
    ``device``, and (``finite``) without NaN or infinity. Numpy arrays and lists are refused
    with the advice to convert them: pyrovae never copies data silently. Reads the values
    (one host sync) only for ``finite``."""
    x = batch(x, name, where, event_shape=event_shape, dtype=dtype, device=device, error=error)
    if x.shape[0] == 0 and not empty:
        raise error(f"{_prefix(where)}{name} is empty (0 examples); pass at least one example")
    if finite and x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise error(f"{_prefix(where)}{name} has {bad} NaN or infinite values; remove or "
                    "replace them (e.g. torch.nan_to_num(x))")
    return x


def batch(x, name, where="", *, event_shape=None, dtype=None, device=None, error=DataError):
    """The checks of :func:`tensor` that read no values (type, dtype, shape, device): cheap
    enough for every step."""
    if not isinstance(x, torch.Tensor):
        raise error(f"{_prefix(where)}{name} must be a torch.Tensor, got {type_name(x)}; "
                    f"{CONVERT}")
    allowed = {dtype} if dtype is not None else {torch.float32, torch.get_default_dtype()}
    if x.dtype not in allowed:
        want = " or ".join(sorted(str(d).replace("torch.", "") for d in allowed))
        target = "torch.float32" if dtype is None else str(dtype)
        raise error(f"{_prefix(where)}{name} must be a floating tensor of dtype {want} (the "
                    f"model's), got {str(x.dtype).replace('torch.', '')}; convert it with "
                    f"x.to({target})")
    if event_shape is not None:
        event_shape = tuple(event_shape)
        if x.dim() == len(event_shape) and tuple(x.shape) == event_shape:
            raise error(f"{_prefix(where)}{name} has the shape of one example, "
                        f"{tuple(x.shape)}; pass a batch of shape (N, *{event_shape}), e.g. "
                        "x.unsqueeze(0) for one")
        if x.dim() != len(event_shape) + 1 or tuple(x.shape[1:]) != event_shape:
            raise error(f"{_prefix(where)}{name} must have shape (N, *{event_shape}) (examples "
                        f"of the model's event_shape), got {tuple(x.shape)}")
    if device is not None and x.device != torch.device(device):
        raise error(f"{_prefix(where)}{name} is on {x.device} but the model on {device}; move "
                    f"it with x.to({str(device)!r}) (or the model with model.to(...))")
    return x


def labels(y, name, where="", *, n=None, num_classes=None, device=None, error=DataError):
    """``y`` as class labels: an integer ``torch.Tensor`` of shape ``(n,)`` with values in
    0 … ``num_classes`` − 1, on ``device`` (reads the values once)."""
    if not isinstance(y, torch.Tensor):
        raise error(f"{_prefix(where)}{name} must be a torch.Tensor of integer labels, got "
                    f"{type_name(y)}; convert it with torch.as_tensor(y, dtype=torch.long)")
    if y.dtype == torch.bool or y.dtype.is_floating_point or y.dtype.is_complex:
        raise error(f"{_prefix(where)}{name} must hold integer labels (torch.long), got "
                    f"{str(y.dtype).replace('torch.', '')}; convert it with y.long()")
    if y.dim() != 1:
        raise error(f"{_prefix(where)}{name} must have shape (N,), one label per example, got "
                    f"{tuple(y.shape)}")
    if n is not None and y.shape[0] != n:
        raise error(f"{_prefix(where)}{name} has {y.shape[0]} labels but there are {n} "
                    "examples; give one label per example")
    if device is not None and y.device != torch.device(device):
        raise error(f"{_prefix(where)}{name} is on {y.device} but the model on {device}; move "
                    f"it with y.to({str(device)!r})")
    if num_classes is not None and y.numel():
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise error(f"{_prefix(where)}{name} has the label {bad}, outside 0 … "
                        f"{num_classes - 1} (the model's {num_classes} classes)")
    return y


def support(module, x, where):
    """Refuse (or warn about) values of ``x`` outside the support of ``module``'s likelihood
    (its ``check_data``), naming ``x`` as the argument of ``where``; a model without a pyrovae
    likelihood passes. Reads the values (one host sync)."""
    likelihood = getattr(module, "likelihood", None)
    if hasattr(likelihood, "check_data"):
        likelihood.check_data(x, f"x (the argument of {where})")


#: true inside a call that checked its arguments (an ``outermost`` one, a model kind's entry
#: point) and inside :func:`unchecked`: what it calls is not checked again
_INSIDE = contextvars.ContextVar("pyrovae_inside_checked_call", default=False)


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Skip the checks that run once per call chain inside (a model kind's entry points, the
    estimators): for data checked already, e.g. the trainer's validation at every epoch (the
    data were checked when :meth:`~pyrovae.training.Trainer.fit` began)."""
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def inside() -> bool:
    """Whether this call is made inside a checked call or :func:`unchecked` (see there)."""
    return _INSIDE.get()


_F = TypeVar("_F", bound=Callable[..., Any])


def arguments(check: Callable[[dict[str, Any]], object], where: str, *,
              outermost: bool = False) -> Callable[[_F], _F]:
    """A decorator: the function's arguments checked before it runs, whoever calls it.

    The call is bound to the function's signature, its defaults filled in, and
    ``check(arguments)`` run on the dict ``{name: value}`` it makes; a call the signature
    refuses (an argument missing, one unknown) is a :class:`~pyrovae.errors.ConfigError`
    ``"<where>: <Python's message>"``, with the closest parameter for an unknown keyword
    (``got an unexpected keyword argument 'num_sample' (did you mean 'num_samples'?)``). The
    function keeps its name, docstring and signature (``inspect.signature`` and Sphinx see the
    real one)::

        @checks.arguments(_check_fit, "pyrovae.fit")
        def fit(config, run_dir=None, *, resume=False, ...): ...

    :param check: raises one of pyrovae's errors, in ``where``'s name, for a bad argument.
    :param where: the public name of the function, for the messages (``"pyrovae.fit"``).
    :param outermost: check only the outermost call: skipped inside a checked call or
        :func:`unchecked`, and what the function calls is not checked again; for checks that
        read data (a tensor's values), which a caller may have checked already.
    """
    def decorate(function: _F) -> _F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if outermost and _INSIDE.get():
                return function(*args, **kwargs)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as e:
                unknown = [k for k in kwargs if k not in signature.parameters]
                hint = closest(unknown[0], signature.parameters) if unknown else ""
                raise ConfigError(f"{where}: {e}{hint}") from None
            bound.apply_defaults()
            with unchecked() if outermost else contextlib.nullcontext():
                check(dict(bound.arguments))
                return function(*args, **kwargs)

        return cast(_F, checked)

    return decorate
