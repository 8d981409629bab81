import pytest

from pyrovae import ConfigError, Registry


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
