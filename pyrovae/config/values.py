"""One value of a config, checked on its own: its type against its default's, its range or
choices, and what no machine could use (an integer beyond 64 bits, NaN, text that is not
UTF-8); a component written as a name or as a table; a command-line value parsed as TOML."""

import math
import tomllib

from ..data.features import DRAWS, UNITS
from ..data.load import BINARIZE_MODES
from ..device import check_device_name
from ..errors import ConfigError
from ..files import shown
from ..registry import Component, closest

__all__ = ["MAX_INT", "MAX_IWAE_K", "as_component", "check_type", "check_values", "parse_value",
           "plain", "toml_value"]


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


def parse_value(text):
    """Parse a command-line value as a TOML value (``3``, ``1e-3``, ``true``, ``[256, 128]``,
    ``"x"``); anything that is not valid TOML is taken as a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def toml_value(value):
    """``value`` as TOML writes it (``true``, ``0.001``, ``"cpu"``, ``[8]``), for the messages."""
    import tomli_w

    if isinstance(value, (list, tuple)):  # on one line (tomli_w writes a line per item)
        return f"[{', '.join(toml_value(v) for v in value)}]"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


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


def check_type(path, value, default):
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
            + f"e.g. {path} = {toml_value(default)}"
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


def check_values(path, value):
    """:func:`_check_scalar` over ``value`` and everything inside it (lists, tables,
    components), naming the key of each."""
    if isinstance(value, Component):
        _check_scalar(f"{path}.name", value.name)
        value = value.options
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _check_scalar(f"{path} key", key)
            check_values(f"{path}.{key}", item)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_values(f"{path}[{i}]", item)
    else:
        _check_scalar(path, value)


def as_component(path, value):
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


def plain(value):
    """Tuples -> lists, and ``None`` entries of tables dropped (TOML has only arrays and no
    null; a dropped option reads back as its default, ``None``), recursively."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    return value
