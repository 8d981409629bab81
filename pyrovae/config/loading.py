"""Making a :class:`~pyrovae.config.Config` and writing it back: from a TOML file, the
command line's flags and ``--set`` overrides (:func:`load_config`), nested dicts
(:func:`config_from_dict`), ``section.key`` values (:func:`with_values`); every key goes
through one setter that checks it, and :func:`config_to_dict` gives the tables TOML writes."""

import copy
import dataclasses
import os
import tomllib
from collections.abc import Sequence
from typing import Any

from .. import checks
from ..errors import ConfigError
from ..registries import by_kind
from ..registry import Component, article, closest
from .schema import Config, ModelConfig, section_fields
from .sizes import check_memory
from .validation import activate_code, model_kind, validate
from .values import as_component, check_type, parse_value, plain

__all__ = ["apply_override", "config_from_dict", "config_to_dict", "load_config", "with_values"]


def config_from_dict(raw, where="the config"):
    """Build a :class:`Config` from nested dicts (as read from TOML), checking every key."""
    return validate(_fill(Config(), copy.deepcopy(raw), where))


def _fill(config, raw, where):
    sections = section_fields()
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
        setattr(section, key, [as_component(f"{path}[{i}]", v) for i, v in enumerate(value)])
    elif isinstance(current, Component):
        setattr(section, key, as_component(path, value))
    else:
        setattr(section, key, check_type(path, value, current))


def _model_component(config, key, where):
    """The model option ``key`` as a :class:`Component` (its current value, else the kind's
    default), stored back so that ``--set model.key.option=...`` can edit it; ``where`` names
    the override, for the message."""
    MODELS = by_kind()["model"]

    if key not in model_kind(config).components:
        kind = article(f"'{config.model.kind}'")  # "an 'm2'"
        raise ConfigError(f"{where}: model.{key} is not a component of {kind} model")
    options = config.model.options
    value = options[key] if key in options else MODELS.options(config.model.kind)[key]
    options[key] = as_component(f"model.{key}", value)
    return options[key]


def apply_override(config, assignment):
    """Apply one ``section.key=value`` or ``section.component.option=value`` override."""
    where = f"override '{assignment}'"  # a --set of the CLI, or load_config(overrides=[...])
    if "=" not in assignment:
        raise ConfigError(f"{where}: an override is section.key=value (no '=' here)")
    path, text = assignment.split("=", 1)
    parts = path.strip().split(".")
    value = parse_value(text.strip())
    sections = section_fields()
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
        out[section_field.name] = plain(table)
    return out


def with_values(config: Config, **values: Any) -> Config:
    """A copy of ``config`` with ``values`` (``"section.key"`` -> value) set, each checked like
    a key of a TOML file; ``config`` itself is not changed. ::

        run_config = with_values(config, **{"output.dir": "runs/a", "train.epochs": 50})
    """
    config = copy.deepcopy(config)
    for dotted, value in values.items():
        section_name, _, key = dotted.partition(".")
        if section_name not in section_fields() or not key:
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
    activate_code(config, imports_only=True)  # before the flags: --model may name an imported kind
    kind_first = sorted(flags.items(), key=lambda item: item[0] != "model.kind")
    for dotted, value in kind_first:
        if value is None:
            continue
        section_name, key = dotted.split(".")
        section = getattr(config, section_name)
        if section_name == "model" and key in model_kind(config).components:
            value = Component(value)  # a new name on the command line drops the old options
        elif isinstance(getattr(section, key, None), Component):
            value = Component(value)
        _set_field(section_name, section, key, value, "the command line")
    for assignment in overrides:
        apply_override(config, assignment)
    config = validate(config)
    check_memory(config)
    return config
