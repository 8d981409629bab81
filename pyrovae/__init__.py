"""pyrovae: variational autoencoders written the Pyro way.

Build a VAE from named components (or your own objects), train it with a Pyro ELBO, and evaluate
it with estimators you can check::

    import pyrovae as pv

    data = pv.load_dataset("digits", binarize="dynamic")
    vae = pv.VAE.build(data.event_shape, z_dim=16, prior="learned-normal")
    pv.Trainer(vae, objective="meanfield").fit(data, epochs=10)
    print(vae.evaluate(data.test.x))
"""

from .config import Component, Config, load_config
from .data import Batcher, DataSet, load_dataset
from .errors import CheckpointError, ConfigError, DataError, PyroVAEError
from .guides import Posterior
from .infer import (
    elbo_terms,
    evaluate_elbo,
    evaluate_log_likelihood,
    importance_bound,
    naive_estimate,
)
from .likelihoods import Likelihood
from .models import VAE
from .priors import Prior
from .registries import (
    DATASETS,
    DECODERS,
    ENCODERS,
    GUIDES,
    LIKELIHOODS,
    MODELS,
    OBJECTIVES,
    OPTIMIZERS,
    PRIORS,
    REGISTRIES,
    SCHEDULERS,
)
from .registry import Registry
from .train import Trainer, train

__version__ = "0.1.0"

__all__ = sorted(
    [
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
