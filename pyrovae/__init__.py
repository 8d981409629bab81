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
    from .training import Trainer as Trainer, fit as fit, resume as resume, train as train

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
    "Trainer": "training", "fit": "training", "resume": "training", "train": "training",
}


def _getattr(name: str) -> object:
    if name in _EXPORTS:
        # the object itself: a function checks its arguments where it is defined
        # (pyrovae.checks.arguments), so pv.fit is pyrovae.training.fit
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
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
