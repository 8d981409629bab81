import re
import tomllib
from pathlib import Path

import pytest

from pyrovae import ConfigError, load_config
from pyrovae.config import Component, config_from_dict, config_to_dict, parse_value


def test_defaults_are_resolved_with_every_option():
    config = load_config()
    assert config.data.name == "digits"
    assert config.model.prior == Component("normal", {})
    assert config.model.guide.options == {"min_scale": 1e-4, "scale": "softplus"}
    assert config.train.objective.options == {"num_particles": 1}
    assert config.model.likelihood.name == "bernoulli"


def test_toml_file_flags_and_overrides_in_order(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        """
[data]
name = "digits"
binarize = "static"

[model]
z_dim = 8
prior = { name = "learned-normal", min_scale = 0.01 }
likelihood = "gaussian"

[train]
epochs = 3
objective = { name = "meanfield", num_particles = 4 }
"""
    )
    config = load_config(
        path,
        ["model.likelihood.scale=0.2", "train.lr=3e-4", "model.encoder.hidden=[32, 16]"],
        **{"train.epochs": 5, "model.z_dim": None},
    )
    assert config.data.binarize == "static"
    assert config.model.z_dim == 8  # flag None: not given
    assert config.train.epochs == 5  # flag beats file
    assert config.model.prior.options == {"min_scale": 0.01}
    assert config.model.likelihood.options["scale"] == 0.2
    assert config.model.likelihood.options["learn_scale"] == "global"
    assert config.train.lr == 3e-4
    assert config.model.encoder.options["hidden"] == [32, 16]
    assert config.train.objective == Component("meanfield", {"num_particles": 4})


def test_flag_with_new_component_name_drops_old_options(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nprior = { name = "learned-normal", min_scale = 0.5 }\n')
    config = load_config(path, **{"model.prior": "normal"})
    assert config.model.prior == Component("normal", {})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"modle": {}}, "unknown section \\[modle\\] \\(did you mean 'model'\\?\\)"),
        ({"model": {"zdim": 3}}, "no option 'zdim' \\(did you mean 'z_dim'\\?\\)"),
        ({"model": {"alpha": 5}}, "model.alpha is an option of the .*m2.*, not of 'vae'"),
        ({"model": {"label_prior": [0.5, 0.5]}}, "model.label_prior is an option of the .*m2"),
        ({"model": {"kind": "m2", "features": 0.5}}, "model.features must be int"),
        ({"model": {"kind": "m2", "alpha": -1.0}}, "model.alpha must be zero or positive"),
        ({"model": {"kind": "m2", "classifier": "nope"}}, "unknown encoder 'nope'"),
        ({"model": {"kind": "vea"}}, "unknown model 'vea' \\(did you mean 'vae'\\?\\)"),
        ({"model": {"kl_weight": -0.5}}, "model.kl_weight must be zero or positive"),
        ({"model": {"prior": "nromal"}}, "unknown prior 'nromal' \\(did you mean 'normal'\\?\\)"),
        ({"model": {"prior": {"name": "normal", "scale": 2}}}, "prior 'normal' has no option"),
        ({"model": {"z_dim": 0}}, "model.z_dim must be positive"),
        ({"model": {"z_dim": 2.5}}, "model.z_dim must be int"),
        ({"train": {"lr": -1.0}}, "train.lr must be positive"),
        ({"train": {"batch_size": 0}}, "train.batch_size must be positive"),
        ({"train": {"objective": "elbo"}}, "unknown objective 'elbo'"),
        ({"train": {"optimizer": "adamm"}}, "did you mean 'adam'"),
        ({"data": {"name": "mnsit"}}, "unknown dataset 'mnsit' \\(did you mean 'mnist'\\?\\)"),
        ({"data": {"valid_fraction": 1.5}}, "fraction"),
        ({"model": {"prior": {"min_scale": 1}}}, "needs a name"),
        ({"model": {"kind": "m2", "label_prior": [0.5, 0.6]}}, "summing to 1"),
        ({"model": {"kind": "m2", "label_prior": "skewed"}}, "must be \"uniform\" or a list"),
        ({"plugins": {"imports": "mymod"}}, "plugins.imports must be a list"),
        ({"plugins": {"sha256": {"x.py": "abc"}}}, "64 hex digits"),
        ({"plugins": {"imprts": []}}, "unknown key 'plugins.imprts'"),
    ],
)
def test_bad_configs_fail_at_load_time(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_bad_overrides():
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["model.z_dim"])
    with pytest.raises(ConfigError, match="unknown section 'mdel'"):
        load_config(None, ["mdel.z_dim=3"])
    with pytest.raises(ConfigError, match="has no option 'hiden'"):
        load_config(None, ["model.encoder.hiden=[3]"])
    with pytest.raises(ConfigError, match="not a component"):
        load_config(None, ["model.z_dim.x=3"])


def test_bad_toml_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nz_dim = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_parse_value():
    assert parse_value("3") == 3
    assert parse_value("1e-3") == 1e-3
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("mixture") == "mixture"
    assert parse_value('"3"') == "3"


def test_round_trip_through_toml():
    import tomli_w

    config = load_config(None, ["model.prior=learned-normal", "train.epochs=2"])
    text = tomli_w.dumps(config_to_dict(config))
    again = config_from_dict(tomllib.loads(text))
    assert config_to_dict(again) == config_to_dict(config)


# -- what the kinds declare ----------------------------------------------------------------------


def _kinds():
    from pyrovae.registries import MODELS

    return [name for name in MODELS.names() if ":" not in name]


@pytest.mark.parametrize("kind", _kinds())
def test_labels_are_opt_in(kind):
    """``data.labels`` is accepted only by a kind that declares ``uses_labels`` (and does not
    need every label); every other kind refuses it, whatever it is (``cvae-quadrants``
    included), by the one check in the config."""
    from pyrovae.registries import MODELS

    cls = MODELS.get(kind)
    raw = {"model": {"kind": kind}, "data": {"labels": 50}}
    if cls.uses_labels and not cls.needs_every_label:
        assert config_from_dict(raw).data.labels == 50
    elif cls.needs_every_label:
        with pytest.raises(ConfigError, match="conditioned on the label of every example"):
            config_from_dict(raw)
    else:
        with pytest.raises(ConfigError,
                           match=f"the '{kind}' model uses none: use model.kind = \"m2\""):
            config_from_dict(raw)
    assert config_from_dict({"model": {"kind": kind}}).data.labels == 0


def test_which_kinds_use_labels():
    from pyrovae.registries import MODELS

    uses = {name for name in _kinds() if MODELS.get(name).uses_labels}
    assert {"m2", "cvae"} <= uses and not {"vae", "cvae-quadrants"} & uses


def test_a_kind_checks_its_own_options():
    """M2's ``label_prior`` ("uniform" or a list of probabilities, where the default is a
    string) and ``alpha`` are checked by M2's ``check_config``; the config package knows
    neither."""
    import pyrovae.config as config_module

    config = config_from_dict({"model": {"kind": "m2", "label_prior": [0.25, 0.75]}})
    assert config.model.label_prior == [0.25, 0.75]
    for bad in ([1, 3], [0.5, 0.5, 0.0], [1.0], "skewed"):
        with pytest.raises(ConfigError, match="model.label_prior must be"):
            config_from_dict({"model": {"kind": "m2", "label_prior": bad}})
    package = Path(config_module.__file__).parent
    source = "".join(p.read_text() for p in sorted(package.glob("*.py")))
    assert "def validate" in source  # the whole package, not only its __init__
    assert "label_prior" not in source and "model.alpha" not in source


def test_sizes_beyond_this_machine_are_refused_when_written_not_when_read(monkeypatch):
    """``load_config`` refuses a config whose sizes would not fit in this machine's memory,
    naming the size to blame; a run's config read back (``config_from_dict``) is not checked
    against the machine, so a run reads the same everywhere."""
    import pyrovae.memory

    monkeypatch.setattr(pyrovae.memory, "available_bytes", lambda device="cpu": 10**15)
    big = load_config(overrides=["model.z_dim=1000000"])  # on a machine with 1 PB
    monkeypatch.setattr(pyrovae.memory, "available_bytes", lambda device="cpu": 10**8)
    load_config()  # the defaults fit in 100 MB
    for override, named in [
        ("model.z_dim=1000000", "model.z_dim = 1000000 would need"),
        ("model.encoder.hidden=[100000]", "model.encoder.hidden = [100000] would need"),
        ("train.objective.num_particles=100000", "train.objective.num_particles = 100000"),
        ("train.eval_samples=1000000", "train.eval_samples = 1000000 would need"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(named)) as error:
            load_config(overrides=[override])
        assert "\n" not in str(error.value) and "this machine has 95.4 MiB available; give a " \
            "smaller " in str(error.value)
    assert config_from_dict(config_to_dict(big)).model.z_dim == 1000000


@pytest.mark.parametrize("override, message", [
    ("model.z_dim=99999999999999999999999", "model.z_dim = 99999999999999999999999 is beyond"),
    ("model.encoder.hidden=[1, 99999999999999999999]", "model.encoder.hidden[1] = "),
    ("train.optimizer={name=\"adam\", eps=nan}", "train.optimizer.eps must be a finite number"),
    ("model.likelihood={name=\"gaussian\", scale=-inf}", "must be a finite number, got -inf"),
    ("model.encoder={name=\"conv\", channels=[]}", "model.encoder.channels is empty"),
    ("train.optimizer={name=\"sgd\", momentum=-1}", "train.optimizer: optimizer 'sgd': momentum"),
    ("train.scheduler={name=\"step\", step_size=1, gamma=2}", "train.scheduler: scheduler 'step'"),
    ("train.final_iwae_k=1000001", "K must be in [0, 1000000]"),
    ("train=1", "train is a section, not a key"),
    (".lr=1", "has an empty name"),
    ("train.lr.=1", "has an empty name"),
])
def test_values_no_machine_can_use(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_config(overrides=[override])
    assert "\n" not in str(error.value)


def test_text_that_is_not_utf8_is_refused_wherever_it_enters():
    """A path given as bytes of another encoding (decoded with surrogateescape) cannot be
    written to config.toml: refused, shown as \\xff."""
    import os

    name = os.fsdecode(b"runs/\xff")
    for key in ("output.dir", "data.dir"):
        with pytest.raises(ConfigError, match=re.escape(f"{key}: path 'runs/\\xff' is not valid "
                                                        "UTF-8; rename it or choose another")):
            load_config(**{key: name})
    with pytest.raises(ConfigError, match="is not valid UTF-8"):
        config_from_dict({"output": {"dir": name}})
