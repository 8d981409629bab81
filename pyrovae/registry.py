"""A small name -> component registry.

Every swappable piece of pyrovae (priors, likelihoods, guides, networks, objectives, data sets,
optimizers) lives in a :class:`Registry`. A config names a component and passes keyword
arguments; :meth:`Registry.check_options` validates those keywords against the component's
signature when the config is loaded, so a typo fails before any training starts.

Registering your own component is one decorator::

    from pyrovae import PRIORS
    from pyrovae.priors import Prior

    @PRIORS.register("my-prior")
    class MyPrior(Prior):
        "One line that `pyrovae list` shows."
        ...

Components of installed packages are found through the entry-point group ``pyrovae.plugins``
(:mod:`pyrovae.plugins`): the first time any registry is read, each such entry point's module is
imported, and registers what it defines like the decorator above.
"""

import difflib
import inspect

from .errors import ConfigError

__all__ = ["Registry", "closest"]

#: the hint an unknown name gets when nothing registered is close to it
OWN_HINT = ("; if it is registered by a module of yours, import that module with --import "
            "MODULE (or install it with a pyrovae.plugins entry point)")


def _plugins_ready():
    """Import the ``pyrovae.plugins`` entry points once, before a registry is first read."""
    from .plugins import load_entry_points

    load_entry_points()


def closest(name, choices):
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices`` to ``name``, or ``""``."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


class Registry:
    """Maps names to component factories (classes or functions).

    :param str kind: what the registry holds, e.g. ``"prior"``; used in error messages.
    :param tuple builder_args: names of the arguments that pyrovae passes itself when it builds a
        component (e.g. ``z_dim``); they are not config keys.
    :param str constructor: for classes, the classmethod that builds one from its options
        (default: the class itself, i.e. ``__init__``); model kinds use ``"build"``.
    :param loader: called as ``loader(name)`` for a name that is not registered; it may
        register ``name`` and return its factory, or return ``None`` (then the name is unknown).
        Model kinds use it for ``path/to/file.py:ClassName`` and ``package.module:ClassName``
        (:func:`pyrovae.models.user.load_model`).
    :param adapt: called as ``adapt(factory, what)`` on what :meth:`get` returns, e.g. to wrap
        a plain ``nn.Module`` registered as a model kind
        (:func:`pyrovae.models.user.model_class`); ``what`` names it for messages.
    """

    def __init__(self, kind, builder_args=(), constructor=None, loader=None, adapt=None):
        self.kind = kind
        self.builder_args = tuple(builder_args)
        self.constructor = constructor
        self.loader = loader
        self.adapt = adapt
        self._entries = {}

    def register(self, name, factory=None, *, description=None):
        """Register ``factory`` under ``name``; usable as ``@registry.register("name")``.

        :param str name: the name used in configs and on the command line.
        :param factory: a class or function; its keyword arguments are the config options.
        :param str description: one line for ``pyrovae list``; defaults to the docstring's first
            line.
        """

        def add(obj):
            if name in self._entries and not _same(self._entries[name][0], obj):
                raise ValueError(f"{self.kind} '{name}' is already registered")
            doc = description or (inspect.getdoc(obj) or "").strip().split("\n")[0]
            self._entries[name] = (obj, doc)
            return obj

        return add if factory is None else add(factory)

    def __contains__(self, name):
        _plugins_ready()
        return name in self._entries

    def names(self):
        """Registered names, sorted (plugins included)."""
        _plugins_ready()
        return sorted(self._entries)

    def describe(self):
        """``{name: one-line description}`` for every registered component."""
        return {name: self._entries[name][1] for name in self.names()}

    def get(self, name):
        """The factory registered as ``name`` (or that :attr:`loader` loads for it); an unknown
        name raises :class:`ConfigError`."""
        _plugins_ready()
        if name not in self._entries and self.loader is not None:
            loaded = self.loader(name)
            if loaded is not None:
                return loaded
        if name not in self._entries:
            hint = closest(name, self._entries)
            raise ConfigError(
                f"unknown {self.kind} '{name}'{hint}; "
                f"choose one of: {', '.join(self.names())}{'' if hint else OWN_HINT}"
            )
        factory = self._entries[name][0]
        return factory if self.adapt is None else self.adapt(factory, f"{self.kind} '{name}'")

    def _callable(self, factory):
        """What building ``factory`` calls: the function, the class, or its constructor."""
        if inspect.isclass(factory) and self.constructor:
            return getattr(factory, self.constructor)
        return factory

    def options(self, name):
        """``{option: default}`` for the config options of ``name`` (``inspect.Parameter.empty``
        marks a required one)."""
        params = inspect.signature(self._callable(self.get(name))).parameters.values()
        return {
            p.name: p.default
            for p in params
            if p.name not in self.builder_args
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def check_options(self, name, options, where=None):
        """Raise :class:`ConfigError` if ``options`` has a key ``name`` does not accept or lacks a
        required one. Returns the options with defaults filled in."""
        accepted = self.options(name)
        where = where or self.kind
        for key in options:
            if key not in accepted:
                valid = ", ".join(sorted(accepted)) or "none"
                raise ConfigError(
                    f"{where}: {self.kind} '{name}' has no option '{key}'"
                    f"{closest(key, accepted)}; its options are: {valid}"
                )
        full = {}
        for key, default in accepted.items():
            if key in options:
                full[key] = options[key]
            elif default is inspect.Parameter.empty:
                raise ConfigError(f"{where}: {self.kind} '{name}' needs the option '{key}'")
            else:
                full[key] = default
        return full

    def build(self, name, context=None, **options):
        """Call the factory registered as ``name`` with ``options`` and those entries of
        ``context`` (e.g. ``z_dim``, ``event_shape``) that its signature names."""
        target = self._callable(self.get(name))
        wanted = inspect.signature(target).parameters
        extra = {k: v for k, v in (context or {}).items() if k in wanted}
        return target(**extra, **options)

    def resolve(self, spec, context=None):
        """Turn ``spec`` into a component: the one step where configs and Python objects meet.

        ``spec`` may be a registered name (``"normal"``), a table ``{"name": ..., **options}``,
        a :class:`~pyrovae.config.Component`, or an already built object, which is returned
        unchanged.
        """
        if isinstance(spec, str):
            name, options = spec, {}
        elif isinstance(spec, dict):
            options = dict(spec)
            if "name" not in options:
                raise ConfigError(f"a {self.kind} table needs a 'name' key, got {spec}")
            name = options.pop("name")
        elif hasattr(spec, "name") and hasattr(spec, "options") and not callable(spec):
            name, options = spec.name, dict(spec.options)
        else:
            return spec
        options = self.check_options(name, options)
        return self.build(name, context, **options)


def _same(a, b):
    """The same component, or the same definition imported again (its module reloaded): then
    the newer one replaces it."""
    return a is b or (getattr(a, "__module__", None) == getattr(b, "__module__", 0)
                      and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", 0))
