"""The one list of pyrovae's registries.

Config validation (``pyrovae.config.validation``), ``pyrovae list``, the CLI and the
package's public names all read :data:`REGISTRIES`, so a new registry is added here once.
Keys are the headings of ``pyrovae list``; each registry's ``kind`` (``"prior"``, ...) is how
a config field names it.

Each registry imports the ``pyrovae.plugins`` entry points the first time it is read
(:mod:`pyrovae.plugins`); :data:`MODELS` also loads a model of the user's own from a spec
``path/to/file.py:ClassName`` or ``package.module:ClassName``, and wraps a plain ``nn.Module``
registered in it (:mod:`pyrovae.models.user`).
"""

from .callbacks import CALLBACKS
from .data import DATASETS
from .guides import GUIDES
from .infer.objectives import OBJECTIVES
from .likelihoods import LIKELIHOODS
from .models.base import MODELS
from .models.user import load_model, model_class
from .nets import DECODERS, ENCODERS
from .optim import OPTIMIZERS
from .priors import PRIORS
from .schedulers import SCHEDULERS

__all__ = [
    "CALLBACKS",
    "DATASETS",
    "DECODERS",
    "ENCODERS",
    "GUIDES",
    "LIKELIHOODS",
    "MODELS",
    "OBJECTIVES",
    "OPTIMIZERS",
    "PRIORS",
    "REGISTRIES",
    "SCHEDULERS",
    "by_kind",
]

MODELS.loader, MODELS.adapt = load_model, model_class  # models of the user's own

REGISTRIES = {
    "models": MODELS,
    "datasets": DATASETS,
    "priors": PRIORS,
    "likelihoods": LIKELIHOODS,
    "guides": GUIDES,
    "encoders": ENCODERS,
    "decoders": DECODERS,
    "objectives": OBJECTIVES,
    "optimizers": OPTIMIZERS,
    "schedulers": SCHEDULERS,
    "callbacks": CALLBACKS,
}


def by_kind():
    """``{registry.kind: registry}``, e.g. ``{"prior": PRIORS, ...}``, for config fields."""
    return {registry.kind: registry for registry in REGISTRIES.values()}
