"""The model interface: options from ``build``, one ``build_model`` from a config, and
programs the trace-derived estimators cannot read refused in one line before any work."""

import pyro
import pytest
import torch

import pyrovae as pv
from pyrovae.compare import compare
from pyrovae.infer import evaluate_elbo, evaluate_log_likelihood, naive_estimate
from pyrovae.infer.traces import ProgramError
from pyrovae.models.base import MODELS, build_model


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


class _Broken(pv.VAE):
    """A VAE whose programs the estimators cannot read, in one of several ways."""

    flaw = None

    def model(self, x, y=None, kl_weight=1.0):
        if self.flaw == "outside the plate":
            pyro.sample("w", pyro.distributions.Normal(0.0, 1.0))
        with pyro.plate("data", x.shape[0]):
            if self.flaw == "an extra latent":
                pyro.sample("u", pyro.distributions.Normal(torch.zeros(x.shape[0]), 1.0))
            z = pyro.sample("z", self.prior())
            pyro.sample("x", self.likelihood(self.decoder(z)), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        with pyro.plate("data", x.shape[0]):
            if self.flaw == "an extra guide site":
                pyro.sample("v", pyro.distributions.Normal(torch.zeros(x.shape[0]), 1.0))
            pyro.sample("z", self.q(x))


@pytest.mark.parametrize("flaw, message", [
    ("outside the plate", r"site 'w' lies outside the 'data' plate"),
    ("an extra latent", r"the model's latent site 'u' has no site in the guide"),
    ("an extra guide site", r"the guide's site 'v' is not a site of the model"),
])
@pytest.mark.parametrize("estimator", ["elbo", "importance", "naive", "compare"])
def test_estimators_refuse_programs_they_cannot_read_in_one_line(flaw, message, estimator):
    model = _Broken.build((4,), z_dim=2, likelihood="gaussian")
    model.flaw = flaw
    x = torch.rand(3, 4)
    run = {"elbo": lambda: evaluate_elbo(model, x),
           "importance": lambda: evaluate_log_likelihood(model, x, 5),
           "naive": lambda: naive_estimate(model, x, 4),
           "compare": lambda: compare(model, x, repeats=1, particles=(1,), draws=2)}[estimator]
    with pytest.raises(ProgramError, match=message) as caught:
        run()
    assert "\n" not in str(caught.value)


def test_a_module_without_a_guide_is_refused():
    class NoGuide(torch.nn.Module):
        def model(self, x, y=None):
            pass

    with pytest.raises(ProgramError, match=r"the model has no 'guide' method"):
        evaluate_elbo(NoGuide(), torch.rand(3, 4))
