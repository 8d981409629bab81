"""Run configuration: dataclasses, TOML loading, command-line overrides, validation.

A config has four sections, each a dataclass::

    [data]      which data set, where it lives, how it is binarized and split
    [model]     the latent size and the components: prior, likelihood, guide, encoder, decoder
    [train]     objective, optimizer, learning rate, batch size, epochs, seed, device
    [output]    where the run directory goes

A component is written either as a name (``prior = "normal"``) or as a table with a ``name`` and
the component's options (``prior = { name = "learned-normal", min_scale = 0.01 }``). Every name
and option is checked against its registry when the config is loaded (:func:`load_config`), so a
typo fails before any data is read, with the valid choices and the closest match.

Precedence, lowest first: the defaults below, a TOML file, the named command-line flags
(``--prior`` and friends), then ``--set section.key=value`` in the order given.
"""

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field

from .errors import ConfigError
from .registry import closest

__all__ = [
    "Component",
    "Config",
    "DataConfig",
    "ModelConfig",
    "OutputConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "parse_value",
]


@dataclass
class Component:
    """A component chosen by name, with keyword options for its constructor."""

    name: str
    options: dict = field(default_factory=dict)

    def to_dict(self):
        return {"name": self.name, **self.options}


def _component(name, registry, **options):
    return field(
        default_factory=lambda: Component(name, dict(options)), metadata={"registry": registry}
    )


@dataclass
class DataConfig:
    """``[data]``: the data set.

    ``name`` is a registered data set (``pyrovae list``) or a path to a ``.npy``/``.npz`` file;
    ``dir`` is a folder holding it (empty: the download cache); ``binarize`` is ``"none"``,
    ``"static"`` (drawn once) or ``"dynamic"`` (re-drawn every epoch); the fractions apply to data
    sets without a fixed split, drawn with ``split_seed``. ``labels`` (for ``model.kind = "m2"``)
    keeps that many training labels, balanced over the classes and chosen with ``split_seed``;
    0 keeps them all.
    """

    name: str = "digits"
    dir: str = ""
    binarize: str = "dynamic"
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    labels: int = 0


@dataclass
class ModelConfig:
    """``[model]``: the latent size and the components (see ``pyrovae list``).

    ``kl_weight`` is β > 0 on the KL term (1 is the ELBO); ``kl_warmup_epochs`` = W ramps it
    linearly, β·(e + 1)/W in epoch e = 0, 1, ..., reaching β after W epochs.

    The semi-supervised ``m2`` kind also reads ``classifier`` (the network of q(y|x), an encoder
    with one output per class), ``label_prior`` (p(y): ``"uniform"`` or a list of class
    probabilities) and ``alpha`` (the weight of the auxiliary loss −log q(y|x) per labelled
    example); see :class:`pyrovae.models.m2.M2`.
    """

    kind: str = field(default="vae", metadata={"registry": "model"})
    z_dim: int = 16
    prior: Component = _component("normal", "prior")
    likelihood: Component = _component("bernoulli", "likelihood")
    guide: Component = _component("diag-normal", "guide")
    encoder: Component = _component("mlp", "encoder", hidden=[400], activation="relu")
    decoder: Component = _component("mlp", "decoder", hidden=[400], activation="relu")
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 0
    classifier: Component = _component("mlp", "encoder", hidden=[400], activation="relu")
    label_prior: object = "uniform"
    alpha: float = 1.0


@dataclass
class TrainConfig:
    """``[train]``: the SVI loop.

    ``num_threads = 0`` keeps torch's default; ``eval_samples`` is the number of z draws per
    example for the validation ELBO.
    """

    objective: Component = _component("trace", "objective", num_particles=1)
    optimizer: Component = _component("adam", "optimizer")
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 30
    seed: int = 0
    device: str = "cpu"
    num_threads: int = 0
    eval_batch_size: int = 1000
    eval_samples: int = 1


@dataclass
class OutputConfig:
    """``[output]``: ``dir`` is the run directory (empty: ``runs/<data set>-<time stamp>``)."""

    dir: str = ""


@dataclass
class Config:
    """A whole run's configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


#: values that must be strictly positive / non-negative
_POSITIVE = {
    "model.z_dim",
    "train.lr",
    "train.batch_size",
    "train.eval_batch_size",
    "train.eval_samples",
    "model.kl_weight",
}
_NON_NEGATIVE = {
    "train.epochs",
    "model.kl_warmup_epochs",
    "train.num_threads",
    "data.labels",
    "model.alpha",
}
_FRACTIONS = {"data.valid_fraction", "data.test_fraction"}


def _registries():
    """Section-field registry names -> Registry objects (imported late: no import cycles)."""
    from .data import DATASETS
    from .guides import GUIDES
    from .infer.objectives import OBJECTIVES
    from .likelihoods import LIKELIHOODS
    from .models.base import MODELS
    from .nets import DECODERS, ENCODERS
    from .optim import OPTIMIZERS
    from .priors import PRIORS

    return {
        "prior": PRIORS,
        "likelihood": LIKELIHOODS,
        "guide": GUIDES,
        "encoder": ENCODERS,
        "decoder": DECODERS,
        "objective": OBJECTIVES,
        "optimizer": OPTIMIZERS,
        "dataset": DATASETS,
        "model": MODELS,
    }


def parse_value(text):
    """Parse a command-line value as a TOML value (``3``, ``1e-3``, ``true``, ``[256, 128]``,
    ``"x"``); anything that is not valid TOML is taken as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _sections():
    return {f.name: f for f in dataclasses.fields(Config)}


def _check_label_prior(path, value):
    """``"uniform"`` or a list of positive class probabilities that sums to 1."""
    if value == "uniform":
        return value
    ok = isinstance(value, list) and len(value) > 1
    ok = ok and all(isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0
                    for p in value)
    if not ok or abs(sum(value) - 1) > 1e-6:
        raise ConfigError(
            f"{path} must be \"uniform\" or a list of positive class probabilities summing to "
            f"1, got {value!r}; e.g. --set {path}=[0.5,0.5]"
        )
    return [float(p) for p in value]


def _check_type(path, value, default):
    """Coerce/validate a scalar against the type of its default."""
    if path == "model.label_prior":
        return _check_label_prior(path, value)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise ConfigError(
            f"{path} must be {type(default).__name__}, got {value!r}; "
            f"e.g. --set {path}={default!r}".replace("'", '"')
        )
    if path in _POSITIVE and not value > 0:
        raise ConfigError(f"{path} must be positive, got {value!r}")
    if path in _NON_NEGATIVE and value < 0:
        raise ConfigError(f"{path} must be zero or positive, got {value!r}")
    if path in _FRACTIONS and not 0 <= value < 1:
        raise ConfigError(f"{path} must be a fraction in [0, 1), got {value!r}")
    return value


def _as_component(path, value):
    if isinstance(value, Component):
        return Component(value.name, dict(value.options))
    if isinstance(value, str):
        return Component(value)
    if isinstance(value, dict):
        options = dict(value)
        name = options.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"{path} needs a name, e.g. {path} = {{ name = \"...\" }}")
        return Component(name, options)
    raise ConfigError(f"{path} must be a component name or a table with a name, got {value!r}")


def config_from_dict(raw, where="the config"):
    """Build a :class:`Config` from nested dicts (as read from TOML), checking every key."""
    return validate(_fill(Config(), copy.deepcopy(raw), where))


def _fill(config, raw, where):
    sections = _sections()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table of sections")
    for section_name, section_raw in raw.items():
        if section_name not in sections:
            raise ConfigError(
                f"{where}: unknown section [{section_name}]{closest(section_name, sections)}; "
                f"sections are: {', '.join(sections)}"
            )
        if not isinstance(section_raw, dict):
            raise ConfigError(f"{where}: [{section_name}] must be a table")
        section = getattr(config, section_name)
        for key, value in section_raw.items():
            _set_field(section_name, section, key, value, where)
    return config


def _set_field(section_name, section, key, value, where="the config"):
    fields = {f.name: f for f in dataclasses.fields(section)}
    path = f"{section_name}.{key}"
    if key not in fields:
        raise ConfigError(
            f"{where}: unknown key '{path}'{closest(key, fields)}; "
            f"[{section_name}] keys are: {', '.join(fields)}"
        )
    current = getattr(section, key)
    if isinstance(current, Component):
        setattr(section, key, _as_component(path, value))
    else:
        setattr(section, key, _check_type(path, value, current))


def apply_override(config, assignment):
    """Apply one ``section.key=value`` or ``section.component.option=value`` override."""
    if "=" not in assignment:
        raise ConfigError(f"--set needs section.key=value, got '{assignment}'")
    path, text = assignment.split("=", 1)
    parts = path.strip().split(".")
    value = parse_value(text.strip())
    sections = _sections()
    if len(parts) < 2 or parts[0] not in sections:
        section = parts[0] if parts else ""
        raise ConfigError(
            f"--set {path}: unknown section '{section}'{closest(section, sections)}; "
            f"use section.key=value with a section among: {', '.join(sections)}"
        )
    section = getattr(config, parts[0])
    if len(parts) == 2:
        _set_field(parts[0], section, parts[1], value, "--set")
    elif len(parts) == 3:
        target = getattr(section, parts[1], None)
        if not isinstance(target, Component):
            raise ConfigError(f"--set {path}: {parts[0]}.{parts[1]} is not a component")
        target.options[parts[2]] = value
    else:
        raise ConfigError(f"--set {path}: too many dots; use section.key or section.key.option")
    return config


def _component_fields(config):
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            if "registry" in f.metadata:
                yield f"{section_field.name}.{f.name}", section, f


def validate(config):
    """Check every component name and option; fill in defaults. Returns ``config``."""
    registries = _registries()
    for path, section, f in _component_fields(config):
        registry = registries[f.metadata["registry"]]
        value = getattr(section, f.name)
        if isinstance(value, Component):
            registry.get(value.name)
            value.options = _plain(registry.check_options(value.name, value.options, path))
        else:
            registry.get(value)
    name = config.data.name
    if not name.endswith((".npy", ".npz")):
        registries["dataset"].get(name)
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if not isinstance(value, Component):
                _check_type(f"{section_field.name}.{f.name}", value, f.default)
    from .models.base import MODELS

    MODELS.get(config.model.kind).check_config(config)
    return config


def _plain(value):
    """Tuples -> lists, and ``None`` entries of tables dropped (TOML has only arrays and no
    null; a dropped option reads back as its default, ``None``), recursively."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def config_to_dict(config):
    """The config as nested plain dicts, ready for TOML (components become tables)."""
    out = {}
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        table = {}
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            table[f.name] = value.to_dict() if isinstance(value, Component) else value
        out[section_field.name] = _plain(table)
    return out


def load_config(path=None, overrides=(), **flags):
    """Load a config: defaults, then the TOML file at ``path``, then ``flags`` (``"section.key"``
    -> value, for the named CLI flags; ``None`` values are skipped), then ``overrides``
    (``"section.key=value"`` strings). Raises :class:`ConfigError` on any unknown name or key.
    """
    raw = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    config = _fill(Config(), raw, where=str(path) if path else "the config")
    for dotted, value in flags.items():
        if value is None:
            continue
        section_name, key = dotted.split(".")
        section = getattr(config, section_name)
        if isinstance(getattr(section, key), Component):
            value = Component(value)  # a new name on the command line drops the old options
        _set_field(section_name, section, key, value, "the command line")
    for assignment in overrides:
        apply_override(config, assignment)
    return validate(config)
