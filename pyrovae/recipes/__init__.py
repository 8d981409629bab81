"""The recipes: published protocols as configs, shipped with the package.

Each ``NAME.toml`` beside this module is a config for ``pyrovae train`` whose comments name the
paper, its table, the data and the published figure. Run one by name, from anywhere::

    pyrovae train --recipe vae-static --data-dir ../shared/data
    pyrovae list recipes                      # every name, with its first comment line

or from Python::

    from pyrovae import recipes

    with recipes.path("vae-static") as file:
        config = pv.load_config(file, ["train.epochs=10"])

The recipes set ``data.dir = "../shared/data"``, where this project's data live beside its
repository; ``--data-dir`` (or ``data.dir``) says where yours are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import ConfigError
from ..registry import closest

__all__ = ["describe", "description", "names", "path", "read"]

SUFFIX = ".toml"


def _files() -> Traversable:
    return resources.files(__name__)


def names() -> list[str]:
    """The recipes' names, sorted (``"vae-static"``, ...)."""
    return sorted(entry.name[: -len(SUFFIX)] for entry in _files().iterdir()
                  if entry.name.endswith(SUFFIX) and entry.is_file())


def _entry(name: str) -> Traversable:
    known = names()
    if name not in known:
        raise ConfigError(f"unknown recipe '{name}'{closest(name, known)}; choose one of: "
                          f"{', '.join(known)} (pyrovae list recipes)")
    return _files() / f"{name}{SUFFIX}"


def read(name: str) -> str:
    """The text of recipe ``name``; an unknown name raises
    :class:`~pyrovae.errors.ConfigError` with the closest name and the list."""
    return _entry(name).read_text(encoding="utf-8")


@contextlib.contextmanager
def path(name: str) -> Iterator[Path]:
    """A context manager giving recipe ``name`` as a file on disk (the package's own file when
    it is installed as files, as it usually is; a temporary copy otherwise), e.g. for
    :func:`pyrovae.load_config`."""
    with resources.as_file(_entry(name)) as file:
        yield Path(file)


def description(text: str) -> str:
    """A recipe's description: its first comment line, with "…" when the sentence goes on."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#") and line.lstrip("# ").strip():
            first = line.lstrip("#").strip()
            following = lines[index + 1] if index + 1 < len(lines) else ""
            goes_on = following.startswith("#") and following.lstrip("#").strip()
            return f"{first} …" if goes_on else first
    return ""


def describe() -> dict[str, str]:
    """``{name: description}`` for every recipe (``pyrovae list recipes``)."""
    return {name: description(read(name)) for name in names()}
