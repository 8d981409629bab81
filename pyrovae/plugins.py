"""Code of your own on pyrovae's command line: plugins, ``--import`` and model files.

Three ways bring components and model kinds of your own to every command:

* **Plugins.** An installed package declares entry points in the group ``pyrovae.plugins``, each
  naming a module::

      # pyproject.toml of your package
      [project.entry-points."pyrovae.plugins"]
      mypriors = "mypackage.priors"

  Each module is imported the first time a registry is read (:func:`load_entry_points`; not for
  ``pyrovae --help``), and registers what it defines with the registries' decorators
  (``@pv.PRIORS.register("student-t")``).
* **--import MODULE** (every command, repeatable) imports a module by name, or a ``.py`` file by
  path, for one command. ``train`` records it in the run's ``[plugins] imports``, so that
  ``evaluate``, ``compare``, ``sample``, ``plot`` and ``--resume`` import it again.
* **model.kind = "path/to/file.py:ClassName"** (or ``"package.module:ClassName"``) names a model
  class of your own (:mod:`pyrovae.models.user`).

A file among these (a model file, an imported ``.py``) is recorded with its SHA-256 in the run's
``[plugins] sha256`` when the config is first loaded, and checked every time the run's config
is read again: a run whose code has changed or gone is refused in one line, as a run on
codes refuses a changed M1 (:mod:`pyrovae.data.features`).

This module imports neither torch nor Pyro.
"""

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "activate",
    "file_digest",
    "import_target",
    "is_file_target",
    "load_entry_points",
    "short_name",
    "split_spec",
]

#: the entry-point group whose modules are imported before a registry is first read
ENTRY_POINT_GROUP = "pyrovae.plugins"

_loaded = {"entry_points": False}


class PluginError(ConfigError):
    """Code of the user's own that cannot be used: a module that does not import, a model file
    that is missing or has changed since the run recorded it."""


# -- entry points -----------------------------------------------------------------------------


def load_entry_points():
    """Import the module of every ``pyrovae.plugins`` entry point, once per process. A module
    that fails to import is refused in one line naming its package."""
    if _loaded["entry_points"]:
        return
    _loaded["entry_points"] = True  # first: a plugin's own registry calls must not recurse
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as e:
            dist = getattr(getattr(ep, "dist", None), "name", None) or "its package"
            raise PluginError(
                f"the {ENTRY_POINT_GROUP} entry point '{ep.name}' of {dist} ({ep.value}) failed "
                f"to import: {_describe(e, ep.value)}; fix or uninstall {dist}"
            ) from e


# -- importing a module or a file -------------------------------------------------------------


def is_file_target(target):
    """Whether ``target`` names a file (``x.py``, or a path with a ``/``) rather than a module."""
    return target.endswith(".py") or "/" in target


def split_spec(kind):
    """``(target, class name)`` of a model spec ``"path/file.py:Class"`` or
    ``"package.module:Class"``, or ``None`` for a registered kind's name."""
    if not isinstance(kind, str) or ":" not in kind:
        return None
    target, _, name = kind.rpartition(":")
    return target, name


def short_name(kind):
    """What a model kind is called in file names and messages: the class name of a spec, else
    the kind itself."""
    spec = split_spec(kind)
    return kind if spec is None else spec[1]


def file_digest(path):
    """The SHA-256 (hex) of the file ``path``."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _module_name(path):
    """The ``sys.modules`` name of a file imported by path: one per resolved path, so the file
    runs once per process however it is named."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    return f"_pyrovae_file_{path.stem}_{digest}"


def _describe(e, target):
    """``ErrorType: message (file, line N)`` for an exception raised while importing, the line
    being the innermost one of the user's code (not importlib's)."""
    text = f"{type(e).__name__}: {' '.join(str(e).split())}" if str(e) else type(e).__name__
    if isinstance(e, SyntaxError) and e.lineno:
        return f"{text} ({e.filename}, line {e.lineno})"
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if "importlib" not in f.filename and "<frozen" not in f.filename]
    if frames:
        return f"{text} ({frames[-1].filename}, line {frames[-1].lineno})"
    return text


def import_target(target, where):
    """Import ``target``, a module name or a path to a ``.py`` file, and return the module.

    :param str where: what asked for it, for the messages (e.g. ``"plugins.imports 'mymod'"``).
    :raises PluginError: one line: the file or module does not exist, or importing it raised.
    """
    if is_file_target(target):
        return _import_file(target, where)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        if e.name and (target == e.name or target.startswith(f"{e.name}.")):
            raise PluginError(
                f"{where}: there is no module named '{target}'; give a module on the Python "
                "path (PYTHONPATH) or a path to a .py file"
            ) from None
        raise PluginError(f"{where}: importing {target} failed: {_describe(e, target)}") from e
    except ConfigError as e:
        raise PluginError(f"{where}: importing {target} failed: {e}") from e
    except Exception as e:
        raise PluginError(f"{where}: importing {target} failed: {_describe(e, target)}") from e


def _import_file(target, where):
    path = Path(target).expanduser()
    if not path.is_file():
        what = "is a folder, not a .py file" if path.is_dir() else "does not exist"
        raise PluginError(f"{where}: the file {target}{_relative(target)} {what}; check the "
                          "path")
    real = path.resolve()
    name = _module_name(real)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, real)
    if spec is None or spec.loader is None:
        raise PluginError(f"{where}: {target} cannot be imported as Python code; name a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look it up
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        del sys.modules[name]
        if not isinstance(e, Exception):
            raise
        detail = str(e) if isinstance(e, ConfigError) else _describe(e, target)
        raise PluginError(f"{where}: importing {target} failed: {detail}") from e
    return module


# -- a config's own code ----------------------------------------------------------------------


def _relative(path):
    """`` (relative to <cwd>)`` for a relative path, which is taken from the working folder."""
    return "" if Path(path).expanduser().is_absolute() else f" (relative to {Path.cwd()})"


def _check_recorded(sha256):
    for path, recorded in sha256.items():
        if not Path(path).expanduser().is_file():
            raise PluginError(
                f"{path}{_relative(path)}, whose SHA-256 this run recorded ([plugins] sha256), "
                "is gone; restore it (or run pyrovae from the folder it was trained in), or "
                "train a new run"
            )
        digest = file_digest(Path(path).expanduser())
        if digest != recorded:
            raise PluginError(
                f"{path} has changed since this run recorded it (sha256 {digest[:12]}..., "
                f"recorded {recorded[:12]}...): the model or components would not be those "
                "trained; restore the file, or train a new run"
            )


def activate(plugins, kind=None):
    """Make a config's own code available before its names are resolved: check the recorded
    SHA-256 of every file among ``plugins.imports`` and of a model file named by ``kind``
    (raise :class:`PluginError` if one has changed or gone), import ``plugins.imports``, and
    record the digest of each such file that has none yet; digests of files the config no
    longer names are dropped. Idempotent (a module is imported once).

    :param plugins: a :class:`~pyrovae.config.PluginsConfig`.
    :param str kind: ``model.kind``; ``None``: the imports only (while ``model.kind`` may still
        change, e.g. before the command line's flags are applied).
    """
    files = [t for t in plugins.imports if is_file_target(t)]
    spec = split_spec(kind)
    model_file = spec[0] if spec is not None and is_file_target(spec[0]) else None
    if model_file is not None:
        files.append(model_file)
    if kind is not None:
        for path in [p for p in plugins.sha256 if p not in files]:
            del plugins.sha256[path]
    _check_recorded({path: plugins.sha256[path] for path in files if path in plugins.sha256})
    for target in plugins.imports:
        import_target(target, f"plugins.imports '{target}'")
    if model_file is not None and not Path(model_file).expanduser().is_file():
        raise PluginError(
            f"model.kind = '{kind}': the model file {model_file}{_relative(model_file)} does "
            "not exist; check the path (a model of your own is path/to/file.py:ClassName or "
            "package.module:ClassName)"
        )
    for path in files:
        if path not in plugins.sha256:
            plugins.sha256[path] = file_digest(Path(path).expanduser())
