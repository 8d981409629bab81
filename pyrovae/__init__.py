"""pyrovae: variational autoencoders written the Pyro way.

Build a VAE from named components (or your own objects), train it with a Pyro ELBO, and evaluate
it with estimators you can check::

    import pyrovae as pv

    data = pv.load_dataset("digits", binarize="dynamic")
    vae = pv.VAE.build(data.event_shape, z_dim=16, prior="learned-normal")
    pv.Trainer(vae, objective="meanfield").fit(data, epochs=10)
    print(vae.evaluate(data.test.x))

or train a run directory from a config, exactly as ``pyrovae train`` does, and read it back::

    run = pv.fit(pv.load_config(overrides=["train.epochs=10"]), "runs/first")
    run = pv.load_run("runs/first", checkpoint="best")
    print(run.model.evaluate(run.data.test.x), run.results["test"]["elbo"])
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # What a type checker sees: every public name with its real type (``X as X``: re-exported).
    # At run time each is imported the first time it is used, by __getattr__ below.
    from .callbacks import CALLBACKS as CALLBACKS, Callback as Callback
    from .config import (
        Component as Component, Config as Config, load_config as load_config,
        with_values as with_values,
    )
    from .data import Batcher as Batcher, DataSet as DataSet, load_dataset as load_dataset
    from .errors import (
        CallbackError as CallbackError, CheckpointError as CheckpointError,
        ConfigError as ConfigError, DataError as DataError, PyroVAEError as PyroVAEError,
        TrainingError as TrainingError,
    )
    from .guides import Posterior as Posterior
    from .infer import (
        elbo_terms as elbo_terms, evaluate_elbo as evaluate_elbo,
        evaluate_log_likelihood as evaluate_log_likelihood, importance_bound as importance_bound,
        naive_estimate as naive_estimate,
    )
    from .likelihoods import Likelihood as Likelihood
    from .models import LatentVariableModel as LatentVariableModel, VAE as VAE
    from .models.user import as_model as as_model
    from .params import OwnParameters as OwnParameters
    from .priors import Prior as Prior
    from .registries import (
        DATASETS as DATASETS, DECODERS as DECODERS, ENCODERS as ENCODERS, GUIDES as GUIDES,
        LIKELIHOODS as LIKELIHOODS, MODELS as MODELS, OBJECTIVES as OBJECTIVES,
        OPTIMIZERS as OPTIMIZERS, PRIORS as PRIORS, REGISTRIES as REGISTRIES,
        SCHEDULERS as SCHEDULERS,
    )
    from .registry import Registry as Registry
    from .runs import Run as Run, load_run as load_run
    from .training import Trainer as Trainer, fit as fit, train as train

#: public name -> the submodule that defines it. ``import pyrovae`` imports none of them (no
#: torch, no Pyro): ``pyrovae --help`` answers at once, and each name is imported the first time
#: it is used (PEP 562).
_EXPORTS = {
    "CALLBACKS": "callbacks", "Callback": "callbacks",
    "Component": "config", "Config": "config", "load_config": "config",
    "with_values": "config",
    "Batcher": "data", "DataSet": "data", "load_dataset": "data",
    "CallbackError": "errors", "CheckpointError": "errors", "ConfigError": "errors",
    "DataError": "errors", "PyroVAEError": "errors", "TrainingError": "errors",
    "Posterior": "guides",
    "elbo_terms": "infer", "evaluate_elbo": "infer", "evaluate_log_likelihood": "infer",
    "importance_bound": "infer", "naive_estimate": "infer",
    "Likelihood": "likelihoods",
    "VAE": "models", "LatentVariableModel": "models", "as_model": "models.user",
    "OwnParameters": "params",
    "Prior": "priors",
    "DATASETS": "registries", "DECODERS": "registries", "ENCODERS": "registries",
    "GUIDES": "registries", "LIKELIHOODS": "registries", "MODELS": "registries",
    "OBJECTIVES": "registries", "OPTIMIZERS": "registries", "PRIORS": "registries",
    "REGISTRIES": "registries", "SCHEDULERS": "registries",
    "Registry": "registry",
    "Run": "runs", "load_run": "runs",
    "Trainer": "training", "fit": "training", "train": "training",
}


def _config_argument(where, config, none=False):
    from .config import Config
    from .errors import ConfigError

    if config is None and none:
        return
    if not isinstance(config, Config):
        hint = ("; make one with pyrovae.load_config(path, overrides=[...]) or, from a dict, "
                "pyrovae.config.config_from_dict(d)" if isinstance(config, dict) else
                "; make one with pyrovae.load_config(path, overrides=[...])")
        from .checks import type_name

        raise ConfigError(f"{where}: config must be a pyrovae Config, got {type_name(config)}"
                          f"{hint}")


def _path_argument(where, name, value, none=False):
    import os

    from .checks import got
    from .errors import ConfigError

    if value is None and none:
        return
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{where}: {name} must be a path (a str or pathlib.Path), got "
                          f"{got(value)}")


def _sequence_of_str(where, name, value):
    from .checks import got
    from .errors import ConfigError

    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {name} must be a list of str, got {got(value)}"
                          + (f"; put it in a list: [{value!r}]" if isinstance(value, str)
                             else ""))


def _callbacks_argument(where, callbacks):
    from .callbacks import Callback
    from .checks import got
    from .errors import ConfigError

    if isinstance(callbacks, (str, bytes, dict, Callback)) or not isinstance(
            callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
        raise ConfigError(f"{where}: callbacks must be a list of pyrovae.Callback objects, got "
                          f"{got(callbacks)}")


def _check_train(config, progress=None, overwrite=False, log=print, callbacks=(), **_):
    from . import checks

    _config_argument("pyrovae.train", config)
    checks.boolean(progress, "progress", "pyrovae.train", none=True)
    checks.boolean(overwrite, "overwrite", "pyrovae.train")
    if not callable(log):
        checks.callable_or_none(log, "log", "pyrovae.train")
    _callbacks_argument("pyrovae.train", callbacks)


def _check_fit(config, run_dir=None, *, resume=False, overwrite=False, epochs=None,
               device=None, num_threads=None, callbacks=(), quiet=False, **_):
    from . import checks

    where = "pyrovae.fit"
    checks.boolean(resume, "resume", where)
    _config_argument(where, config, none=True)
    _path_argument(where, "run_dir", run_dir, none=True)
    checks.boolean(overwrite, "overwrite", where)
    if epochs is not None:
        checks.integer(epochs, "epochs", where, minimum=0)
    if num_threads is not None:
        checks.integer(num_threads, "num_threads", where, minimum=1)
    if device is not None and not isinstance(device, str) and type(device).__name__ != "device":
        raise checks.ConfigError(f"{where}: device must be a str such as \"cpu\" or "
                                 f"\"cuda:0\", got {checks.got(device)}")
    _callbacks_argument(where, callbacks)
    checks.boolean(quiet, "quiet", where)


def _check_load_run(run_dir, checkpoint="best", device="cpu", data=True, data_dir=None, **_):
    from . import checks

    where = "pyrovae.load_run"
    _path_argument(where, "run_dir", run_dir)
    if checkpoint not in ("best", "last"):
        hint = checks.closest(checkpoint, ("best", "last")) if isinstance(checkpoint, str) else ""
        raise checks.ConfigError(f"{where}: checkpoint must be 'best' or 'last', got "
                                 f"{checks.got(checkpoint)}{hint}")
    if not isinstance(device, str) and type(device).__name__ != "device":
        raise checks.ConfigError(f"{where}: device must be a str such as \"cpu\" or "
                                 f"\"cuda:0\", got {checks.got(device)}")
    checks.boolean(data, "data", where)
    _path_argument(where, "data_dir", data_dir, none=True)


def _check_load_config(path=None, overrides=(), **_):
    _path_argument("pyrovae.load_config", "path", path, none=True)
    _sequence_of_str("pyrovae.load_config", "overrides", overrides)


def _check_load_dataset(name, *, data_dir=None, binarize="none", seed=0, valid_fraction=0.1,
                        test_fraction=0.2, split_seed=0, labels=0, options=None, **_):
    from collections.abc import Mapping

    from . import checks

    where = "pyrovae.load_dataset"
    _path_argument(where, "name", name)
    _path_argument(where, "data_dir", data_dir, none=True)
    if not isinstance(binarize, str):
        raise checks.ConfigError(f"{where}: binarize must be \"none\", \"static\" or "
                                 f"\"dynamic\", got {checks.got(binarize)}")
    checks.integer(seed, "seed", where, minimum=0, maximum=2**32 - 1)
    checks.integer(split_seed, "split_seed", where, minimum=0, maximum=2**32 - 1)
    checks.number(valid_fraction, "valid_fraction", where)
    checks.number(test_fraction, "test_fraction", where)
    checks.integer(labels, "labels", where, minimum=0)
    if options is not None and not isinstance(options, Mapping):
        raise checks.ConfigError(f"{where}: options must be a dict of the source's options or "
                                 f"None, got {checks.got(options)}")


def _check_estimator(where, samples):
    def check(arguments):
        from torch import nn

        from . import checks
        from .models.guards import check_support

        model, x, y = arguments.get("model"), arguments.get("x"), arguments.get("y")
        param = next(model.parameters(), None) if isinstance(model, nn.Module) else None
        x = checks.tensor(x, "x", where, event_shape=getattr(model, "event_shape", None),
                          dtype=None if param is None else param.dtype,
                          device=None if param is None else param.device)
        if y is not None:
            checks.labels(y, "y", where, n=x.shape[0],
                          num_classes=getattr(model, "num_classes", None), device=x.device)
        check_support(model, x, where)  # values outside the likelihood's support
        for name in ("batch_size", "max_rows", "sample_chunk", "image_chunk"):
            if arguments.get(name) is not None:
                checks.integer(arguments[name], name, where, minimum=1)
        if samples in arguments:
            k = checks.integer(arguments[samples], samples, where, minimum=1)
            # at least one float64 log-weight per draw and example in a chunk
            checks.require(k * 8 * min(x.shape[0], 1000), f"{where}: {samples} = {k}",
                           f"lower {samples}")

    return check


def _keywords(check):
    """A check written with the function's own signature, as one taking its arguments."""
    return lambda arguments: check(**arguments)


def _checked(function, check):
    """``function`` with ``check`` run first on the same arguments: the package-level entry
    points refuse arguments of the wrong type in one line (a dict for a Config, ...)."""
    import functools
    import inspect

    signature = inspect.signature(function)

    @functools.wraps(function)
    def checked(*args, **kwargs):
        from .errors import ConfigError

        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise ConfigError(f"pyrovae.{function.__name__}: {e}") from None
        bound.apply_defaults()
        check(dict(bound.arguments))
        return function(*args, **kwargs)

    return checked


#: package-level functions whose arguments are checked here before they run
_CHECKS = {
    "train": _keywords(_check_train), "fit": _keywords(_check_fit),
    "load_run": _keywords(_check_load_run), "load_config": _keywords(_check_load_config),
    "load_dataset": _keywords(_check_load_dataset),
    "evaluate_log_likelihood": _check_estimator("pyrovae.evaluate_log_likelihood",
                                                "num_samples"),
    "evaluate_elbo": _check_estimator("pyrovae.evaluate_elbo", "num_samples"),
    "importance_bound": _check_estimator("pyrovae.importance_bound", "num_samples"),
    "naive_estimate": _check_estimator("pyrovae.naive_estimate", "num_samples"),
}


def _getattr(name: str) -> object:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        if name in _CHECKS:
            value = _checked(value, _CHECKS[name])
        globals()[name] = value  # imported once
        return value
    try:  # a submodule, e.g. pyrovae.models
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if not TYPE_CHECKING:  # to type checkers, a name not imported above does not exist (a typo)
    __getattr__ = _getattr


from ._version import __version__

__all__ = sorted(
    [
        "CALLBACKS",
        "Callback",
        "CallbackError",
        "LatentVariableModel",
        "Run",
        "TrainingError",
        "fit",
        "load_run",
        "with_values",
        "OwnParameters",
        "as_model",
        "Batcher",
        "CheckpointError",
        "Component",
        "Config",
        "ConfigError",
        "DATASETS",
        "DECODERS",
        "DataError",
        "DataSet",
        "ENCODERS",
        "GUIDES",
        "LIKELIHOODS",
        "Likelihood",
        "MODELS",
        "OBJECTIVES",
        "OPTIMIZERS",
        "PRIORS",
        "Posterior",
        "Prior",
        "PyroVAEError",
        "REGISTRIES",
        "SCHEDULERS",
        "Registry",
        "Trainer",
        "VAE",
        "elbo_terms",
        "evaluate_elbo",
        "evaluate_log_likelihood",
        "importance_bound",
        "load_config",
        "load_dataset",
        "naive_estimate",
        "train",
    ]
)
