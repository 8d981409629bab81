"""Run configuration: dataclasses, TOML loading, command-line overrides, validation.

A config has five sections, each a dataclass::

    [data]      which data set, where it lives, how it is binarized and split
    [model]     the model kind and its options: latent size, prior, likelihood, guide, networks
    [train]     objective, optimizer, learning rate, batch size, epochs, seed, device
    [output]    where the run directory goes
    [plugins]   modules of your own to import first, and the SHA-256 of your files

A component is written either as a name (``prior = "normal"``) or as a table with a ``name`` and
the component's options (``prior = { name = "learned-normal", min_scale = 0.01 }``). Every name
and option is checked against its registry when the config is loaded (:func:`load_config`), so a
typo fails before any data is read, with the valid choices and the closest match.

Precedence, lowest first: the defaults below, a TOML file, the named command-line flags
(``--prior`` and friends), then ``--set section.key=value`` in the order given.

Every value is checked for what no machine could use, wherever the config comes from: integers
beyond 64 bits, NaN or infinite numbers, text that is not valid UTF-8 (a path given as bytes of
another encoding), an empty ``channels`` list. A config the user writes (:func:`load_config`)
is also checked against this machine's memory (:func:`check_memory`): the parameters its sizes
imply and the activations of a step, estimated from below, before any data is read; a run
read back (:func:`config_from_dict`) is not, so that it reads the same everywhere.

What a model kind alone knows is checked by the kind (its ``build`` keywords and
:meth:`~pyrovae.models.base.LatentVariableModel.check_config`); the config checks only what
the kinds declare: ``data.labels`` is refused for a kind that does not declare ``uses_labels``.

The package, one concept per module: ``pyrovae.config.schema`` (the sections and their
defaults), ``pyrovae.config.values`` (one value checked on its own),
``pyrovae.config.validation`` (a whole config against the registries and its kind),
``pyrovae.config.sizes`` (its sizes against this machine's memory) and
``pyrovae.config.loading`` (TOML, flags, overrides and dicts in; dicts out).
"""

from ..registry import Component
from .loading import config_from_dict, config_to_dict, load_config, with_values
from .schema import Config, DataConfig, ModelConfig, OutputConfig, PluginsConfig, TrainConfig
from .sizes import check_memory
from .validation import validate
from .values import MAX_INT, MAX_IWAE_K, parse_value

__all__ = [
    "Component",
    "Config",
    "MAX_INT",
    "MAX_IWAE_K",
    "DataConfig",
    "ModelConfig",
    "OutputConfig",
    "PluginsConfig",
    "TrainConfig",
    "check_memory",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "parse_value",
    "validate",
    "with_values",
]
