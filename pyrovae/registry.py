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

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from .errors import ConfigError
from .plugins import load_entry_points

__all__ = ["Component", "Registry", "article", "closest", "plain_text", "plural"]

#: the hint an unknown name gets when nothing registered is close to it
OWN_HINT = ("; if it is registered by a module of yours, import that module first "
            "(plugins.imports) or install it with a pyrovae.plugins entry point")


def _plugins_ready():
    """Import the ``pyrovae.plugins`` entry points once, before a registry is first read."""
    load_entry_points()


def closest(name, choices):
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices`` to ``name``, or ``""``."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


#: the letters whose spoken names start with a vowel sound ("eff", "aitch", "em", ...)
_VOWEL_LETTERS = set("aeiou" "fhlmnrsx")


def article(word, letters=True):
    """``word`` after its indefinite article, for names in messages: ``"a vae"``, ``"an m2"``,
    ``"an sdgm"``, ``"an 'm2'"`` (quotes before the name are skipped).

    :param bool letters: read ``word`` letter by letter, as pyrovae's names are (m2, hvae,
        sdgm): a vowel and the letters whose spoken names start with a vowel sound (f, h, l,
        m, n, r, s, x) take "an". With ``letters=False`` ``word`` is read as an English word
        (``"a model"``, ``"an objective"``): only a vowel takes "an" (the rule misses "an hour"
        and "a user").
    """
    word = str(word)
    first = word.lstrip("'\"`(").lower()[:1]
    vowels = _VOWEL_LETTERS if letters else "aeiou"
    return f"{'an' if first and first in vowels else 'a'} {word}"


def plural(n, word, words=None):
    """``"1 epoch"``, ``"2 epochs"``, ``"0 epochs"``: ``n`` and ``word``, with an "s" (or
    ``words``, an irregular plural) unless ``n`` is one."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


#: the inline markup of reStructuredText that docstrings here use, for :func:`plain_text`
_MARKUP = re.compile(
    r"``(?P<literal>.+?)``"  # ``code``
    r"|(?P<role>(?::[\w.+-]+)+:)`(?P<target>(?:[^`\\]|\\.)+)`"  # :class:`~a.b.C`
    r"|`(?P<text>(?:[^`\\]|\\.)+)`_{0,2}"  # `interpreted`, `link <url>`_
    r"|(?:^|(?<=[\s\-:/'\"<(\[{]))\*\*(?P<strong>[^\s*](?:.*?[^\s\\])?)\*\*"  # **strong**
    r"(?=$|[\s\-.,:;!?/'\")\]}>])"
    r"|(?:^|(?<=[\s\-:/'\"<(\[{]))\*(?P<emphasis>[^\s*](?:[^*]*?[^\s*\\])?)\*"  # *emphasis*
    r"(?=$|[\s\-.,:;!?/'\")\]}>])"
    r"|\\(?P<escaped>.)",  # \x
    re.S,
)


def _unescape(text):
    """Backslash escapes removed: ``\\*`` -> ``*``; a backslash before a space goes with it."""
    return re.sub(r"\\(.)", lambda m: "" if m[1].isspace() else m[1], text, flags=re.S)


def _reference(target):
    """What a role shows: ``text <target>`` -> text; ``~a.b.Name`` -> Name; ``a.b`` -> a.b."""
    titled = re.fullmatch(r"(?P<title>.*?)\s*<[^<>]*>", target, flags=re.S)
    if titled and titled["title"]:
        return _unescape(titled["title"])
    target = target.strip()
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return target.lstrip("!")


def plain_text(text):
    """``text`` with its reStructuredText inline markup turned into plain text, what Sphinx
    shows: inline literals, roles (a ``~`` keeps the target's last component, an explicit
    title replaces the target), interpreted text and links, emphasis, strong emphasis and
    backslash escapes. What is not markup (the ``*`` of a product, ``p(x|z)``) is kept::

        >>> plain_text("the mirror of :class:`~pyrovae.nets.ConvEncoder`, ``layers`` deep")
        'the mirror of ConvEncoder, layers deep'
        >>> plain_text(":func:`a loader <pyrovae.models.user.load_model>`, *not* **this**")
        'a loader, not this'
    """

    def replace(m):
        if m["literal"] is not None:
            return m["literal"]
        if m["role"] is not None:
            return _reference(m["target"])
        if m["text"] is not None:
            return _reference(m["text"])
        if m["strong"] is not None:
            return plain_text(m["strong"])
        if m["emphasis"] is not None:
            return plain_text(m["emphasis"])
        return "" if m["escaped"].isspace() else m["escaped"]

    return _MARKUP.sub(replace, text)


#: a component factory: what :meth:`Registry.register` registers and returns
_F = TypeVar("_F")


@dataclass
class Component:
    """A component chosen by name, with keyword options for its constructor."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}



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

    def __init__(self, kind: str, builder_args: Sequence[str] = (), constructor: str | None = None,
                 loader: Callable[[str], Any] | None = None,
                 adapt: Callable[[Any, str], Any] | None = None) -> None:
        self.kind = kind
        self.builder_args = tuple(builder_args)
        self.constructor = constructor
        self.loader = loader
        self.adapt = adapt
        self._entries: dict[str, tuple[Any, str]] = {}

    @overload
    def register(self, name: str, factory: None = None, *,
                 description: str | None = None) -> Callable[[_F], _F]: ...

    @overload
    def register(self, name: str, factory: _F, *, description: str | None = None) -> _F: ...

    def register(self, name: str, factory: Any = None, *, description: str | None = None) -> Any:
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

    def __contains__(self, name: object) -> bool:
        _plugins_ready()
        return name in self._entries

    def names(self) -> list[str]:
        """Registered names, sorted (plugins included)."""
        _plugins_ready()
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """``{name: one-line description}`` for every registered component, in plain text (the
        docstrings' reStructuredText markup removed, :func:`plain_text`)."""
        return {name: plain_text(self._entries[name][1]) for name in self.names()}

    def get(self, name: str) -> Any:
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

    def options(self, name: str) -> dict[str, Any]:
        """``{option: default}`` for the config options of ``name`` (``inspect.Parameter.empty``
        marks a required one)."""
        params = inspect.signature(self._callable(self.get(name))).parameters.values()
        return {
            p.name: p.default
            for p in params
            if p.name not in self.builder_args
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def check_options(self, name: str, options: Mapping[str, Any],
                      where: str | None = None) -> dict[str, Any]:
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

    def build(self, name: str, context: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Call the factory registered as ``name`` with ``options`` and those entries of
        ``context`` (e.g. ``z_dim``, ``event_shape``) that its signature names."""
        target = self._callable(self.get(name))
        wanted = inspect.signature(target).parameters
        extra = {k: v for k, v in (context or {}).items() if k in wanted}
        return target(**extra, **options)

    def resolve(self, spec: Any, context: Mapping[str, Any] | None = None) -> Any:
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
                raise ConfigError(f"{article(self.kind, letters=False)} table needs a 'name' "
                                  f"key, got {spec}")
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
