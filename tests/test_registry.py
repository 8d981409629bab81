import pytest

from pyrovae import ConfigError, Registry
from pyrovae.registry import article, plain_text, plural


def make_registry():
    reg = Registry("widget", builder_args=("size",))

    @reg.register("round-widget")
    class Round:
        """A round widget.

        More text that is not the description.
        """

        def __init__(self, size, radius=1.0, colour="red"):
            self.size, self.radius, self.colour = size, radius, colour

    @reg.register("square")
    def square(side, size=None):
        """A square widget."""
        return ("square", side, size)

    return reg, Round


def test_register_get_names_describe():
    reg, Round = make_registry()
    assert reg.get("round-widget") is Round
    assert reg.names() == ["round-widget", "square"]
    assert reg.describe() == {"round-widget": "A round widget.", "square": "A square widget."}
    assert "square" in reg and "hexagon" not in reg


def test_unknown_name_lists_choices_and_closest():
    reg, _ = make_registry()
    with pytest.raises(ConfigError) as e:
        reg.get("round-widgt")
    message = str(e.value)
    assert "unknown widget 'round-widgt'" in message
    assert "did you mean 'round-widget'" in message
    assert "round-widget, square" in message


def test_options_exclude_builder_args_and_fill_defaults():
    reg, _ = make_registry()
    assert reg.options("round-widget") == {"radius": 1.0, "colour": "red"}
    assert reg.check_options("round-widget", {"radius": 2}) == {"radius": 2, "colour": "red"}


def test_unknown_and_missing_options():
    reg, _ = make_registry()
    with pytest.raises(ConfigError, match="no option 'radus' \\(did you mean 'radius'\\?\\)"):
        reg.check_options("round-widget", {"radus": 2})
    with pytest.raises(ConfigError, match="needs the option 'side'"):
        reg.check_options("square", {})


def test_resolve_names_tables_and_objects():
    reg, Round = make_registry()
    w = reg.resolve("round-widget", {"size": 3, "unused": 1})
    assert (w.size, w.radius, w.colour) == (3, 1.0, "red")
    w = reg.resolve({"name": "round-widget", "colour": "blue"}, {"size": 4})
    assert (w.size, w.colour) == (4, "blue")
    obj = Round(size=1)
    assert reg.resolve(obj) is obj
    assert reg.resolve({"name": "square", "side": 2}, {"size": 5}) == ("square", 2, 5)
    with pytest.raises(ConfigError, match="needs a 'name'"):
        reg.resolve({"colour": "blue"})


def test_double_registration_is_refused():
    reg, _ = make_registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("square", lambda: None)


@pytest.mark.parametrize(
    "rst,plain",
    [
        ("N(0, I) through ``layers`` transforms", "N(0, I) through layers transforms"),
        ("the mirror image of :class:`ConvEncoder`.", "the mirror image of ConvEncoder."),
        ("see :class:`~pyrovae.nets.conv.ConvEncoder`", "see ConvEncoder"),
        ("see :meth:`~pyrovae.Registry.get`", "see get"),
        ("see :func:`pyrovae.models.user.load_model`", "see pyrovae.models.user.load_model"),
        ("see :mod:`pyrovae.plugins`", "see pyrovae.plugins"),
        ("see :attr:`enumerates`", "see enumerates"),
        ("see :py:class:`~a.b.C`", "see C"),
        (":func:`a loader <pyrovae.models.user.load_model>` loads", "a loader loads"),
        (":class:`the config <~pyrovae.config.Config>`", "the config"),
        ("see `Pyro <https://pyro.ai>`_ and `pyrovae list`", "see Pyro and pyrovae list"),
        ("*emphasis* and **strong**, (*here*)", "emphasis and strong, (here)"),
        (r"an escaped \*star\* and a back\\slash", r"an escaped *star* and a back\slash"),
        (r"joined\ up", "joinedup"),
        ("``*`` and ``:class:`` inside a literal", "* and :class: inside a literal"),
        # what is not markup stays
        ("p(x|z) with 2 * 3 * 4 and x*y*z; Σ_k π_k N(m_k, s_k²)",
         "p(x|z) with 2 * 3 * 4 and x*y*z; Σ_k π_k N(m_k, s_k²)"),
        ("", ""),
    ],
)
def test_plain_text_removes_rst_inline_markup(rst, plain):
    assert plain_text(rst) == plain


def test_descriptions_are_plain_text():
    reg = Registry("widget")

    @reg.register("conv")
    class Conv:
        """The mirror of :class:`~a.ConvEncoder`, ``layers`` deep, *twice*."""

    reg.register("given", lambda: None, description="Uses :func:`f <a.f>` on ``x``.")
    assert reg.describe() == {"conv": "The mirror of ConvEncoder, layers deep, twice.",
                              "given": "Uses f on x."}


def test_no_registered_description_shows_rst_markup():
    """What ``pyrovae list`` prints of every built-in component is plain text."""
    from pyrovae.registries import REGISTRIES

    for heading, registry in REGISTRIES.items():
        for name, description in registry.describe().items():
            where = f"{heading}: {name}: {description!r}"
            assert "``" not in description and "`" not in description, where
            for role in (":class:", ":func:", ":meth:", ":mod:", ":attr:", ":data:"):
                assert role not in description, where


@pytest.mark.parametrize(
    "word,expected",
    [
        ("vae", "a vae"), ("cvae", "a cvae"), ("cvae-quadrants", "a cvae-quadrants"),
        ("m2", "an m2"), ("hvae", "an hvae"), ("sdgm", "an sdgm"), ("adgm", "an adgm"),
        ("iwae", "an iwae"), ("elbo", "an elbo"), ("object", "an object"),
        # the letters whose spoken names start with a vowel sound
        ("f", "an f"), ("l1", "an l1"), ("n", "an n"), ("r", "an r"), ("x", "an x"),
        ("M2", "an M2"), ("'m2'", "an 'm2'"), ("'vae'", "a 'vae'"),
        ("b", "a b"), ("gaussian", "a gaussian"), ("y", "a y"), ("2d", "a 2d"), ("", "a "),
    ],
)
def test_article(word, expected):
    assert article(word) == expected


def test_plural():
    assert plural(1, "epoch") == "1 epoch"
    assert [plural(n, "epoch") for n in (0, 2, 10)] == ["0 epochs", "2 epochs", "10 epochs"]
    assert plural(1, "class", "classes") == "1 class"
    assert plural(3, "class", "classes") == "3 classes"
