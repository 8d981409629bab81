"""The model interface: options from ``build``, capability checks before any work, one
``build_model`` from a config."""

import pytest
import torch

import pyrovae as pv
from pyrovae.errors import PyroVAEError
from pyrovae.infer import evaluate_log_likelihood, naive_estimate
from pyrovae.infer.gradients import gradient_draws
from pyrovae.models.base import FEATURES, MODELS, build_model


def test_a_kinds_options_are_its_build_keywords():
    assert set(MODELS.options("vae")) == {"z_dim", "prior", "likelihood", "guide", "encoder",
                                          "decoder"}
    assert set(MODELS.options("m2")) == set(MODELS.options("vae")) | {
        "classifier", "label_prior", "alpha", "features", "activation"}
    for name in MODELS.names():  # every component option names a registry that exists
        for option, registry in MODELS.get(name).components.items():
            assert option in MODELS.options(name)
            assert registry in {r.kind for r in pv.REGISTRIES.values()}


def test_build_model_from_a_config_equals_build_from_python():
    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[8]",
                                   "model.decoder.hidden=[8]"])
    torch.manual_seed(0)
    a = build_model(config, (1, 8, 8))
    torch.manual_seed(0)
    b = pv.VAE.build((1, 8, 8), z_dim=3, encoder={"name": "mlp", "hidden": [8]},
                     decoder={"name": "mlp", "hidden": [8]})
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


class _Opaque(pv.VAE):
    """A kind that cannot give importance weights (as a third-party kind might)."""

    features = frozenset(FEATURES) - {"importance", "gradient-noise"}

    def log_weight_sampler(self, x, proposal="guide", y=None):
        if proposal == "guide":
            raise AssertionError("the estimator ran before the capability check")
        return super().log_weight_sampler(x, proposal)


@pytest.fixture
def opaque():
    MODELS.register("opaque-test", _Opaque)
    yield _Opaque.build((4,), z_dim=2, likelihood="gaussian")
    del MODELS._entries["opaque-test"]


def test_an_estimator_refuses_a_kind_without_the_feature_before_any_work(opaque):
    x = torch.rand(3, 4)
    others = ", ".join(n for n in MODELS.names() if n != "opaque-test")  # every real kind has it
    with pytest.raises(PyroVAEError, match=r"the importance-sampled bound needs log importance "
                       r"weights .* which the 'opaque-test' model does not provide; it works "
                       rf"with: {others}$"):
        evaluate_log_likelihood(opaque, x, 5)
    with pytest.raises(PyroVAEError, match="gradient-noise report needs parameter groups"):
        gradient_draws(opaque, pv.OBJECTIVES.build("trace", {}), x, 2)
    assert naive_estimate(opaque, x, 4).shape == (3,)  # what it does provide still works


def test_require_names_only_known_features(opaque):
    with pytest.raises(ValueError, match="unknown feature"):
        opaque.require("telepathy", "x")
