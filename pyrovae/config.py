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
"""

import copy
import dataclasses
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import checks
from .data.arrays import is_array_file
from .data.features import DRAWS, UNITS
from .data.load import BINARIZE_MODES
from .device import check_device_name
from .errors import ConfigError
from .files import shown
from .memory import require
from .plugins import activate
from .registries import by_kind
from .registry import Component, article, closest

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


def _component(name, registry, **options):
    return field(
        default_factory=lambda: Component(name, dict(options)), metadata={"registry": registry}
    )


@dataclass
class DataConfig:
    """``[data]``: the data set.

    ``name`` is a registered data set (``pyrovae list``) or a path to a ``.npy``/``.npz`` file;
    ``dir`` is a folder holding it (empty: the download cache); ``binarize`` is ``"none"``,
    ``"static"`` (drawn once), ``"dynamic"`` (re-drawn every epoch) or ``"auto"`` (dynamic for
    a likelihood on {0, 1} such as ``bernoulli``, none for every other); the fractions apply to data
    sets without a fixed split, drawn with ``split_seed``. ``labels`` (for a kind that learns
    from labels, ``uses_labels``: ``m2``) keeps that many training labels, balanced over the
    classes and chosen with ``split_seed``; 0 keeps them all; ``labelled_every = N`` puts one labelled batch before every N unlabelled
    ones (1: they alternate; see :class:`~pyrovae.data.labels.SemiSupervisedBatcher`).
    ``labelled_batch = L`` > 0 pairs L labelled examples with every unlabelled batch instead,
    in one step (Maaløe et al.'s ADGM code: 100 and 100), for a kind whose loss takes such
    batches (``paired_batches``: ``adgm``, ``sdgm``); 0, the default: no pairing.
    ``features_from`` names a trained run (a VAE, Kingma et al.'s M1): every image is replaced
    by the mean of that run's q(z|x), so the model trains on the codes (M1+M2; see
    :mod:`pyrovae.data.features`); empty: the images themselves. ``features_draw = "sample"``
    draws the training codes from q(z|x) afresh every epoch instead (Kingma et al.'s code;
    validation and test keep the means); ``features_units = "active"`` keeps only that VAE's
    active units (the latent dimensions whose mean varies over the images).
    ``features_checksum`` is the SHA-256 of that run's checkpoint: filled in when training
    starts, checked on every later load (resume, evaluate), so that codes from a changed M1
    are refused.
    """

    name: str = "digits"
    dir: str = ""
    binarize: str = "auto"
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0
    labels: int = 0
    labelled_every: int = 1
    labelled_batch: int = 0
    features_from: str = ""
    features_draw: str = "mean"
    features_units: str = "all"
    features_checksum: str = ""


@dataclass
class ModelConfig:
    """``[model]``: the model kind, its options, and the weight of the KL term.

    ``kind`` is a registered model kind (``vae``, ``m2``; see ``pyrovae list``), or a model of
    your own: ``"path/to/file.py:ClassName"`` or ``"package.module:ClassName"``
    (:mod:`pyrovae.models.user`). Every other key
    of the section is an option of that kind: a keyword of its ``build`` classmethod
    (:meth:`pyrovae.models.VAE.build`, :meth:`pyrovae.models.M2.build`), checked against it when
    the config is loaded, so a VAE refuses ``alpha``. Options that are components (``prior``,
    ``likelihood``, ``guide``, ``encoder``, ``decoder``, and M2's ``classifier``) are names or
    tables like any component. They are read as attributes (``config.model.z_dim``).

    ``kl_weight`` is β ≥ 0 on the KL term (1 is the ELBO); ``kl_warmup_epochs`` = W ramps it
    linearly, β·(e + 1)/W in epoch e = 0, 1, ..., reaching β after W epochs. Both apply to
    every kind: the trainer passes β to the loss.
    """

    kind: str = field(default="vae", metadata={"registry": "model"})
    kl_weight: float = 1.0
    kl_warmup_epochs: int = 0
    options: dict = field(default_factory=dict, metadata={"options": True})

    def __getattr__(self, name):  # only reached when ``name`` is not a field
        options = self.__dict__.get("options")
        if options is not None and name in options:
            return options[name]
        raise AttributeError(f"[model] has no option '{name}'")


@dataclass
class TrainConfig:
    """``[train]``: the SVI loop.

    ``scheduler`` is a learning-rate schedule (:mod:`pyrovae.schedulers`, stepped per epoch);
    ``num_threads = 0`` keeps torch's default; ``eval_samples`` is the number of z draws per
    example for the validation ELBO, run every ``eval_every`` epochs and after the last;
    ``early_stopping = { patience = P }`` stops after P epochs without a better validation
    ELBO (0: never); ``final_iwae_k = K`` > 0 adds the importance-sampled bound with K samples
    on the test split, from ``best.pt``, to ``results.json``; training stops when a step's loss or gradient is not
    finite, or its loss exceeds the running level by ``divergence_factor`` (0: finiteness only;
    see :mod:`pyrovae.divergence`). ``compile = true`` traces the step's loss and gradient into
    one graph and compiles it (:mod:`pyrovae.compiled`). ``clip_grad_norm = C`` > 0 rescales
    each step's gradient to a global L2 norm of at most C, then ``clip_grad_value = V`` > 0 clamps
    its entries to [−V, V] (0: off; Maaløe et al.'s ADGM code uses 5 and 1). ``callbacks`` lists registered
    training callbacks to add to the run's own (:mod:`pyrovae.callbacks`), each a name or a
    table: ``callbacks = [{ name = "mlflow", experiment = "digits" }]``; a resume may change
    them (they report, they do not change what is learned).
    """

    objective: Component = _component("trace", "objective", num_particles=1)
    optimizer: Component = _component("adam", "optimizer")
    scheduler: Component = _component("none", "scheduler")
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 30
    seed: int = 0
    device: str = "cpu"
    num_threads: int = 0
    eval_batch_size: int = 1000
    eval_samples: int = 1
    eval_every: int = 1
    early_stopping: dict = field(default_factory=lambda: {"patience": 0})
    final_iwae_k: int = 0
    divergence_factor: float = 1000.0
    compile: bool = False
    clip_grad_norm: float = 0.0
    clip_grad_value: float = 0.0
    callbacks: list = field(default_factory=list, metadata={"registry": "callback",
                                                            "many": True})


@dataclass
class OutputConfig:
    """``[output]``: ``dir`` is the run directory (empty:
    ``runs/<data set>-<model kind>-<time stamp>``); ``tensorboard = true`` (the default)
    writes TensorBoard event files into it when the ``tensorboard`` package is installed
    (``pip install -e ".[tensorboard]"``), and nothing otherwise; ``false`` never does."""

    dir: str = ""
    tensorboard: bool = True


@dataclass
class PluginsConfig:
    """``[plugins]``: code of your own (:mod:`pyrovae.plugins`).

    ``imports`` are modules (by name, or ``.py`` files by path) imported before any name of the
    config is resolved, so that the components and kinds they register can be named; ``train
    --import MODULE`` adds to them. ``sha256`` maps every file among them, and a model file
    named by ``model.kind``, to its SHA-256: filled in when the config is first loaded, and
    checked every time it is loaded again (resume, evaluate, compare, sample, plot), so that a
    run whose code has changed or gone is refused in one line.
    """

    imports: list = field(default_factory=list)
    sha256: dict = field(default_factory=dict)


@dataclass
class Config:
    """A whole run's configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    plugins: PluginsConfig = field(default_factory=PluginsConfig)


#: values that must be strictly positive / non-negative
_POSITIVE = {
    "model.z_dim",
    "train.lr",
    "train.batch_size",
    "train.eval_batch_size",
    "train.eval_samples",
    "train.eval_every",
    "data.labelled_every",
}
_NON_NEGATIVE = {
    "model.kl_weight",
    "train.divergence_factor",
    "train.final_iwae_k",
    "train.clip_grad_norm",
    "train.clip_grad_value",
    "train.epochs",
    "model.kl_warmup_epochs",
    "train.num_threads",
    "data.labels",
    "data.labelled_batch",
}
_FRACTIONS = {"data.valid_fraction", "data.test_fraction"}
#: values from a fixed list
_RANGES = {
    # numpy (which Pyro seeds) takes seeds in [0, 2**32)
    "train.seed": (0, 2**32 - 1, "a seed must be in [0, 4294967295]"),
    "data.split_seed": (0, 2**32 - 1, "a seed must be in [0, 4294967295]"),
}
#: the most samples per example of the importance-sampled bound: 200 times the 5000 of the
#: papers (Burda et al. 2016); its time grows linearly with K, and beyond this it would take
#: days on a test set while the bound has long stopped moving
MAX_IWAE_K = 1_000_000
_RANGES["train.final_iwae_k"] = (0, MAX_IWAE_K, f"K must be in [0, {MAX_IWAE_K}] (0: no "
                                 "bound; papers use 5000)")
_CHOICES = {
    "data.binarize": ("auto", *BINARIZE_MODES),
    "data.features_draw": DRAWS,
    "data.features_units": UNITS,
}


def _registries():
    """Registry kind -> Registry, from the one list in :mod:`pyrovae.registries`."""
    return by_kind()


def parse_value(text):
    """Parse a command-line value as a TOML value (``3``, ``1e-3``, ``true``, ``[256, 128]``,
    ``"x"``); anything that is not valid TOML is taken as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _toml_value(value):
    """``value`` as TOML writes it (``true``, ``0.001``, ``"cpu"``, ``[8]``), for the messages."""
    import tomli_w

    if isinstance(value, (list, tuple)):  # on one line (tomli_w writes a line per item)
        return f"[{', '.join(_toml_value(v) for v in value)}]"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _sections():
    return {f.name: f for f in dataclasses.fields(Config)}


def _check_plugins(path, value):
    """``plugins.imports``: a list of module names or paths; ``plugins.sha256``: a table of
    file -> hex digest."""
    if path == "plugins.imports":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{path} must be a list of module names or .py paths, got "
                              f"{value!r}; e.g. plugins.imports = [\"mypackage.priors\"]")
        return list(dict.fromkeys(value))
    ok = isinstance(value, dict) and all(
        isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
        for v in value.values())
    if not ok:
        raise ConfigError(f"{path} must be a table of file = SHA-256 (64 hex digits), got "
                          f"{value!r}; it is filled in by pyrovae: drop it to record it anew")
    return dict(value)


def _check_early_stopping(path, value):
    """A table ``{ patience = P }`` with P ≥ 0 epochs (0: off)."""
    if not isinstance(value, dict) or set(value) - {"patience"}:
        raise ConfigError(
            f"{path} must be a table {{ patience = P }} (epochs without a better validation "
            f"ELBO before stopping; 0 = off), got {value!r}; e.g. {path} = {{ patience = 50 }}"
        )
    patience = value.get("patience", 0)
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise ConfigError(f"{path}.patience must be a whole number of epochs ≥ 0, got "
                          f"{patience!r}")
    return {"patience": patience}


def _check_type(path, value, default):
    """Coerce/validate a scalar against the type of its default."""
    if path in ("plugins.imports", "plugins.sha256"):
        return _check_plugins(path, value)
    if path == "train.early_stopping":
        return _check_early_stopping(path, value)
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
            f"{path} must be {type(default).__name__}, got {value!r}; ".replace("'", '"')
            + f"e.g. {path} = {_toml_value(default)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path} must be a finite number, got {value!r}")
    _check_scalar(path, value)
    if path in _RANGES and not _RANGES[path][0] <= value <= _RANGES[path][1]:
        raise ConfigError(f"{path} = {value}: {_RANGES[path][2]}")
    if path == "train.device":
        check_device_name(value, path)
    if path in _CHOICES and value not in _CHOICES[path]:
        choices = _CHOICES[path]
        raise ConfigError(
            f"{path} must be one of: {', '.join(map(str, choices))}; got {value!r}"
            f"{closest(value, [str(c) for c in choices])}"
        )
    if path in _POSITIVE and not value > 0:
        raise ConfigError(f"{path} must be positive, got {value!r}")
    if path in _NON_NEGATIVE and not value >= 0:
        raise ConfigError(f"{path} must be zero or positive, got {value!r}")
    if path in _FRACTIONS and not 0 <= value < 1:
        raise ConfigError(f"{path} must be a fraction in [0, 1), got {value!r}")
    return value


#: the largest integer any value may take: torch and NumPy index with 64-bit integers
MAX_INT = 2**63 - 1
#: keys whose strings are paths, for the message
_PATHS = {"data.dir", "data.name", "data.features_from", "output.dir", "plugins.imports",
          "model.kind"}


def _check_scalar(path, value):
    """Refuse what no machine can use: an integer beyond 64 bits, a NaN or infinite number,
    text that is not valid UTF-8 (config.toml is UTF-8)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise ConfigError(f"{path} = {value} is beyond the largest integer pyrovae can use "
                          f"({MAX_INT}); give a smaller value")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path} must be a finite number, got {value!r}")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            what = "path" if path.split("[")[0] in _PATHS else "text"
            raise ConfigError(f"{path}: {what} '{shown(value)}' is not valid UTF-8; rename it or "
                              "choose another") from None


def _check_values(path, value):
    """:func:`_check_scalar` over ``value`` and everything inside it (lists, tables,
    components), naming the key of each."""
    if isinstance(value, Component):
        _check_scalar(f"{path}.name", value.name)
        value = value.options
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _check_scalar(f"{path} key", key)
            _check_values(f"{path}.{key}", item)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_values(f"{path}[{i}]", item)
    else:
        _check_scalar(path, value)


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
    fields = {f.name: f for f in dataclasses.fields(section) if "options" not in f.metadata}
    path = f"{section_name}.{key}"
    if isinstance(section, ModelConfig) and key not in fields:
        section.options[key] = value  # an option of the kind, checked against it in validate
        return
    if key not in fields:
        raise ConfigError(
            f"{where}: unknown key '{path}'{closest(key, fields)}; "
            f"[{section_name}] keys are: {', '.join(fields)}"
        )
    current = getattr(section, key)
    if fields[key].metadata.get("many"):  # a list of components
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list of component names or tables, got "
                              f"{value!r}; e.g. {path} = [{{ name = \"...\" }}]")
        setattr(section, key, [_as_component(f"{path}[{i}]", v) for i, v in enumerate(value)])
    elif isinstance(current, Component):
        setattr(section, key, _as_component(path, value))
    else:
        setattr(section, key, _check_type(path, value, current))


def _model_kind(config):
    """The model class of ``model.kind``: a registered kind (an unknown one: did-you-mean) or a
    model of the user's own, loaded from its file or module."""
    return _registries()["model"].get(config.model.kind)


def _activate(config, imports_only=False):
    """The config's own code, before any of its names is resolved: recorded files checked,
    ``plugins.imports`` imported, files' digests recorded (:func:`pyrovae.plugins.activate`);
    ``imports_only``: not yet the model file (``model.kind`` may still change)."""
    activate(config.plugins, None if imports_only else config.model.kind)


def _model_component(config, key, where):
    """The model option ``key`` as a :class:`Component` (its current value, else the kind's
    default), stored back so that ``--set model.key.option=...`` can edit it; ``where`` names
    the override, for the message."""
    MODELS = _registries()["model"]

    if key not in _model_kind(config).components:
        kind = article(f"'{config.model.kind}'")  # "an 'm2'"
        raise ConfigError(f"{where}: model.{key} is not a component of {kind} model")
    options = config.model.options
    value = options[key] if key in options else MODELS.options(config.model.kind)[key]
    options[key] = _as_component(f"model.{key}", value)
    return options[key]


def apply_override(config, assignment):
    """Apply one ``section.key=value`` or ``section.component.option=value`` override."""
    where = f"override '{assignment}'"  # a --set of the CLI, or load_config(overrides=[...])
    if "=" not in assignment:
        raise ConfigError(f"{where}: an override is section.key=value (no '=' here)")
    path, text = assignment.split("=", 1)
    parts = path.strip().split(".")
    value = parse_value(text.strip())
    sections = _sections()
    if any(not part.strip() for part in parts):
        raise ConfigError(f"{where}: '{path.strip()}' has an empty name before or after a '.'; "
                          "an override is section.key=value, e.g. train.lr=0.001")
    if len(parts) == 1 and parts[0] in sections:
        keys = [f.name for f in dataclasses.fields(sections[parts[0]].type)
                if "options" not in f.metadata]
        raise ConfigError(f"{where}: {parts[0]} is a section, not a key; name one of its keys, "
                          f"{parts[0]}.KEY=VALUE, with KEY among: {', '.join(keys)}"
                          + (" or an option of the model kind (e.g. z_dim)"
                             * (parts[0] == "model")))
    if len(parts) < 2 or parts[0] not in sections:
        section = parts[0] if parts else ""
        raise ConfigError(
            f"{where}: unknown section '{section}'{closest(section, sections)}; "
            f"use section.key=value with a section among: {', '.join(sections)}"
        )
    section = getattr(config, parts[0])
    if len(parts) == 2:
        _set_field(parts[0], section, parts[1], value, where)
    elif len(parts) == 3:
        if parts[0] == "model" and parts[1] not in ("kind", "kl_weight", "kl_warmup_epochs"):
            target = _model_component(config, parts[1], where)
        else:
            target = getattr(section, parts[1], None)
        if isinstance(target, dict):  # a plain table, e.g. train.early_stopping
            target[parts[2]] = value
            return config
        if not isinstance(target, Component):
            raise ConfigError(f"{where}: {parts[0]}.{parts[1]} is not a component")
        target.options[parts[2]] = value
    else:
        raise ConfigError(f"{where}: too many dots; use section.key or section.key.option")
    return config


def _component_fields(config):
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            if "registry" in f.metadata:
                yield f"{section_field.name}.{f.name}", section, f


def validate(config):
    """A checked copy of ``config``: every component name and option checked, defaults filled
    in (``config`` itself is not changed)."""
    config = copy.deepcopy(config)
    _activate(config)
    registries = _registries()
    for path, section, f in _component_fields(config):
        registry = registries[f.metadata["registry"]]
        value = getattr(section, f.name)
        if f.metadata.get("many"):
            for i, component in enumerate(value):
                registry.get(component.name)
                component.options = _plain(registry.check_options(
                    component.name, component.options, f"{path}[{i}]"))
        elif isinstance(value, Component):
            registry.get(value.name)
            value.options = _plain(registry.check_options(value.name, value.options, path))
        else:
            registry.get(value)
    _validate_model(config, registries)
    for section_field in dataclasses.fields(config):  # before any name is used as a path
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            _check_values(f"{section_field.name}.{f.name}" if "options" not in f.metadata
                          else section_field.name, getattr(section, f.name))
    _check_channels(config)
    _check_optimizer(config, registries)
    if not is_array_file(config.data.name):
        registries["dataset"].get(config.data.name)
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if (not isinstance(value, Component) and "options" not in f.metadata
                    and not f.metadata.get("many")):
                _check_type(f"{section_field.name}.{f.name}", value, f.default)
    model_cls = _model_kind(config)
    _check_labels(config, model_cls, registries["model"])
    _check_paired(config, model_cls)
    model_cls.check_config(config)
    return config


def _components(config):
    """``(path, Component)`` for every component of the config, the model's included."""
    for path, section, f in _component_fields(config):
        value = getattr(section, f.name)
        for i, component in enumerate(value if f.metadata.get("many") else [value]):
            if isinstance(component, Component):
                yield (f"{path}[{i}]" if f.metadata.get("many") else path), component
    for key, value in config.model.options.items():
        if isinstance(value, Component):
            yield f"model.{key}", value


def _check_channels(config):
    """A network's ``channels`` (the convolutions' output channels) must name at least one."""
    for path, component in _components(config):
        channels = component.options.get("channels")
        if isinstance(channels, (list, tuple)) and not channels:
            raise ConfigError(f"{path}.channels is empty: a convolutional network needs at least "
                              f"one convolution; give its output channels, e.g. {path}.channels "
                              "= [32, 64]")


def _check_optimizer(config, registries):
    """Build the optimizer and its schedule on one scalar parameter, so that an option out of
    range (SGD's ``momentum = -1``, a ``gamma`` of 2) is refused when the config is read, not
    after the data are loaded. A ValueError or TypeError of a component's own constructor
    becomes one line naming it."""
    import torch

    train = config.train
    for path, spec, registry, context in (
        ("train.optimizer", train.optimizer, registries["optimizer"],
         lambda: {"params": [torch.zeros(1, requires_grad=True)], "lr": train.lr}),
        ("train.scheduler", train.scheduler, registries["scheduler"],
         lambda: {"optimizer": optimizer}),
    ):
        try:
            built = registry.build(spec.name, context(), **spec.options)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
        except (ValueError, TypeError, ArithmeticError) as e:
            raise ConfigError(f"{path}: {spec.name}: {' '.join(str(e).split())}") from None
        except Exception:  # noqa: BLE001  a component of the user's own that needs real
            return  # parameters: its real build, when training starts, reports what is wrong
        if path == "train.optimizer":
            optimizer = built


def _widths(value):
    """The layer widths of a ``hidden`` or ``channels`` option: a list of sizes, or one size."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return []


#: examples per batch the memory estimate assumes at most: a larger batch_size may be cut to
#: the size of the training set, which the config does not know
_ESTIMATE_BATCH = 256


def check_memory(config):
    """Refuse, in one line (:func:`pyrovae.memory.require`), a config whose sizes this machine
    cannot hold, before anything is allocated. The estimate is from below, in float32 (4
    bytes a number): every layer of every network (the widths of its ``hidden`` and
    ``channels``, 3×3 kernels, at least one input and output), every latent size (``*_dim``) a
    layer of at least the narrowest width for its mean, its scale and the decoder, each
    parameter four times (its value, gradient and two optimizer moments); and the activations
    of a step: a batch of ``min(batch_size, 256)`` examples times the objective's
    ``num_particles`` times the widths, kept for the backward pass, or of a validation batch
    times ``eval_samples``. The message names the size whose reduction to 1 would save the
    most."""
    networks = []  # (path, widths, kernel area)
    for path, component in _components(config):
        hidden = _widths(component.options.get("hidden"))
        channels = _widths(component.options.get("channels"))
        kernel = component.options.get("kernel_size", 3)
        area = kernel * kernel if isinstance(kernel, int) and 0 < kernel <= MAX_INT else 9
        if channels:  # the last convolution's maps (at least 1 x 1) feed the hidden layer
            networks.append((f"{path}.channels", [*channels, *hidden[:1]], area))
        if "hidden" in component.options:  # an empty one: the latents meet the data
            networks.append((f"{path}.hidden", hidden, 1))
    latents = []  # (path, size)
    for key, value in config.model.options.items():
        sizes = _widths(value) if (key.endswith("_dim") or key in ("features", "hidden")) else []
        latents += [(f"model.{key}", size) for size in sizes]
    train = config.train
    particles = train.objective.options.get("num_particles", 1)
    particles = particles if isinstance(particles, int) and particles > 0 else 1
    sizes = {"networks": networks, "latents": latents, "particles": particles,
             "eval_samples": train.eval_samples,
             "batch": min(train.batch_size, _ESTIMATE_BATCH),
             "eval_batch": min(train.eval_batch_size, _ESTIMATE_BATCH)}
    total = _estimate(**sizes)
    # the culprit: the size whose reduction to 1 saves the most
    suspects = {"train.objective.num_particles": dict(sizes, particles=1),
                "train.eval_samples": dict(sizes, eval_samples=1)}
    for i, (path, _, area) in enumerate(networks):
        suspects[path] = dict(sizes, networks=[*networks[:i], (path, [1], area),
                                               *networks[i + 1:]])
    for i, (path, _) in enumerate(latents):
        suspects[path] = dict(sizes, latents=[*latents[:i], (path, 1), *latents[i + 1:]])
    culprit = min(suspects, key=lambda path: _estimate(**suspects[path]))
    try:
        what = f"{culprit} = {_toml_value(_plain(_lookup(config, culprit)))}"
    except (AttributeError, KeyError, TypeError, ValueError):
        what = culprit
    require(total, what, f"give a smaller {culprit}")


def _estimate(networks, latents, particles, eval_samples, batch, eval_batch):
    """The bytes :func:`check_memory` estimates (see there)."""
    narrowest = min((min(w, default=1) for _, w, _ in networks), default=1)
    params = 0
    for _, widths, area in networks:
        chain = [1, *widths, 1]
        params += sum(a * b * area + b for a, b in zip(chain, chain[1:]))
    params += sum(3 * size * narrowest for _, size in latents)
    per_example = sum(sum(w) for _, w, _ in networks) + 3 * sum(size for _, size in latents)
    step = max(3 * particles * batch, eval_samples * eval_batch) * per_example
    return 4 * (4 * params + step)


def _lookup(config, dotted):
    """The value at ``dotted`` (``model.encoder.hidden``, ``train.objective.num_particles``)."""
    parts = dotted.split(".")
    value = getattr(config, parts[0])
    for part in parts[1:]:
        if isinstance(value, Component):
            value = value.options[part]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value


def _check_labels(config, model_cls, models):
    """``data.labels`` (keep a few training labels) only for a kind that declares
    ``uses_labels`` and does not need every label (``needs_every_label``)."""
    n, kind = config.data.labels, config.model.kind
    if not n:
        return
    if getattr(model_cls, "needs_every_label", False):
        raise ConfigError(
            f"data.labels = {n} keeps only some labels, but the '{kind}' model is conditioned "
            "on the label of every example; set data.labels = 0 (or use model.kind = \"m2\" "
            "for semi-supervised learning)"
        )
    if not getattr(model_cls, "uses_labels", False):
        learners = [name for name in models.names() if ":" not in name
                    and getattr(models.get(name), "uses_labels", False)
                    and not getattr(models.get(name), "needs_every_label", False)]
        use = "m2" if "m2" in learners else (learners[0] if learners else "m2")
        raise ConfigError(
            f"data.labels = {n} keeps a few training labels, for a model that learns from them "
            f"({', '.join(learners)}); the '{kind}' model uses none: use model.kind = "
            f"\"{use}\", or set data.labels = 0"
        )


def _check_paired(config, model_cls):
    """``data.labelled_batch`` (paired batches) only for a kind that declares
    ``paired_batches``, and not together with ``data.labelled_every``."""
    n, kind = config.data.labelled_batch, config.model.kind
    if n and not getattr(model_cls, "paired_batches", False):
        raise ConfigError(
            f"data.labelled_batch = {n} pairs labelled with unlabelled examples in one batch, "
            f"which the '{kind}' model cannot take; use model.kind = \"adgm\" or \"sdgm\", or "
            "drop it (and use data.labelled_every)"
        )
    if n and not config.data.labels:
        raise ConfigError(
            f"data.labelled_batch = {n} pairs labelled with unlabelled examples, but data.labels "
            "= 0 keeps every label: there are no unlabelled ones; set data.labels = N, or drop "
            "it"
        )
    if n and config.data.labelled_every != 1:
        raise ConfigError(
            f"data.labelled_batch = {n} puts labels in every step, so data.labelled_every = "
            f"{config.data.labelled_every} has no use; drop one of them"
        )


def _validate_model(config, registries):
    """Check ``[model]``'s options against the kind's ``build`` keywords (unknown ones refused
    with did-you-mean, defaults filled in), its components against their registries and its
    plain values against the types of their defaults."""
    kind = config.model.kind
    model_cls = _model_kind(config)
    accepted = registries["model"].options(kind)
    for key in config.model.options:
        owners = [n for n in registries["model"].names()  # registered kinds, not files
                  if ":" not in n and key in registries["model"].options(n)]
        if key not in accepted and owners:
            which = (owners[0] if len(owners) == 1
                     else f"{', '.join(owners[:-1])} and {owners[-1]}")
            raise ConfigError(
                f"model.{key} is an option of the {which} model{'s' * (len(owners) > 1)}, not "
                f"of '{kind}'; drop it or use model.kind = \"{owners[0]}\""
            )
    options = registries["model"].check_options(kind, config.model.options, "[model]")
    for key, value in options.items():
        path = f"model.{key}"
        if key in getattr(model_cls, "checked_options", ()):
            options[key] = _plain(value)  # the kind's check_config checks it
        elif key in model_cls.components:
            registry = registries[model_cls.components[key]]
            component = _as_component(path, value)
            registry.get(component.name)
            component.options = _plain(
                registry.check_options(component.name, component.options, path)
            )
            options[key] = component
        else:
            default = registries["model"].options(kind)[key]
            options[key] = _plain(_check_type(path, value, default))
    config.model.options = options


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
            if "options" in f.metadata:  # [model]: the kind's options are keys of the section
                table.update((k, v.to_dict() if isinstance(v, Component) else v)
                             for k, v in value.items())
            elif f.metadata.get("many"):
                table[f.name] = [v.to_dict() for v in value]
            else:
                table[f.name] = value.to_dict() if isinstance(value, Component) else value
        out[section_field.name] = _plain(table)
    return out


def with_values(config: Config, **values: Any) -> Config:
    """A copy of ``config`` with ``values`` (``"section.key"`` -> value) set, each checked like
    a key of a TOML file; ``config`` itself is not changed. ::

        run_config = with_values(config, **{"output.dir": "runs/a", "train.epochs": 50})
    """
    config = copy.deepcopy(config)
    for dotted, value in values.items():
        section_name, _, key = dotted.partition(".")
        if section_name not in _sections() or not key:
            raise ConfigError(f"{dotted!r} is not a config key; use section.key")
        _set_field(section_name, getattr(config, section_name), key, value, "with_values")
    return config


def _strings(value, name, where):
    """A list (or tuple) of str; a lone str is refused with the advice to put it in a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {name} must be a list of str, got {checks.got(value)}"
                          + (f"; put it in a list: [{value!r}]" if isinstance(value, str)
                             else ""))


def _check_load_config(arguments):
    """The arguments of :func:`load_config` by type (their values are checked as it loads)."""
    checks.path(arguments["path"], "path", "pyrovae.load_config", none=True)
    _strings(arguments["overrides"], "overrides", "pyrovae.load_config")


@checks.arguments(_check_load_config, "pyrovae.load_config")
def load_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = (),
                imports: Sequence[str] = (), **flags: Any) -> Config:
    """Load a config: defaults, then the TOML file at ``path``, then ``flags`` (``"section.key"``
    -> value, for the named CLI flags; ``None`` values are skipped), then ``overrides``
    (``"section.key=value"`` strings). Raises :class:`ConfigError` on any unknown name or key.

    :param imports: modules to import first and record in ``plugins.imports`` (``--import``).
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
    config.plugins.imports = list(dict.fromkeys([*config.plugins.imports, *imports]))
    _activate(config, imports_only=True)  # before the flags: --model may name an imported kind
    kind_first = sorted(flags.items(), key=lambda item: item[0] != "model.kind")
    for dotted, value in kind_first:
        if value is None:
            continue
        section_name, key = dotted.split(".")
        section = getattr(config, section_name)
        if section_name == "model" and key in _model_kind(config).components:
            value = Component(value)  # a new name on the command line drops the old options
        elif isinstance(getattr(section, key, None), Component):
            value = Component(value)
        _set_field(section_name, section, key, value, "the command line")
    for assignment in overrides:
        apply_override(config, assignment)
    config = validate(config)
    check_memory(config)
    return config
