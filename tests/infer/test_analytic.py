"""The KL report says what Pyro does: where it claims "analytic", TraceMeanField_ELBO's loss
equals the hand formula with the closed-form KL; where it claims "Monte Carlo", the loss equals
the hand formula with log q(z) − log p(z) at the drawn z. Training logs it and records it."""

import pyro
import pytest
import torch
from pyro.infer import TraceMeanField_ELBO
from torch.distributions import kl_divergence

from pyrovae import VAE, load_config
from pyrovae.infer.analytic import kl_report
from pyrovae.runfiles import load_run_config
from pyrovae.training import train

TINY = {"name": "mlp", "hidden": [8]}


def vae_with(prior, guide):
    return VAE.build((1, 3, 3), z_dim=2, prior=prior, guide=guide, encoder=TINY, decoder=TINY)


@pytest.mark.parametrize(
    "prior,guide,objective,analytic,text",
    [
        ("normal", "diag-normal", "meanfield", True,
         "latent z: KL analytic (TraceMeanField_ELBO, Normal || Normal)"),
        ("learned-normal", "diag-normal", "meanfield", True, "KL analytic"),
        ("normal", "diag-normal", "trace", False, "closed form exists"),
        ("mixture", "diag-normal", "meanfield", False,
         "latent z: KL estimated by Monte Carlo: no closed form for Normal || MixtureSameFamily"),
        ("normal", "full-rank", "meanfield", False, "no closed form"),
        ("normal", "iaf", "meanfield", False, "no closed form"),
        ("vamp", "diag-normal", "meanfield", False, "no closed form"),
        ("flow", "diag-normal", "meanfield", False, "no closed form"),
    ],
)
def test_report(prior, guide, objective, analytic, text):
    (site,) = kl_report(vae_with(prior, guide), objective)
    assert site.site == "z" and site.analytic is analytic
    assert text in site.line


@pytest.mark.parametrize("prior,guide", [("normal", "diag-normal"), ("mixture", "diag-normal"),
                                         ("normal", "full-rank")])
def test_report_agrees_with_pyro(prior, guide, float64):
    vae = vae_with(prior, guide).double()
    x = torch.randint(0, 2, (4, 1, 3, 3)).double()
    (site,) = kl_report(vae, "meanfield", x)
    pyro.set_rng_seed(5)
    loss = TraceMeanField_ELBO().differentiable_loss(vae.model, vae.guide, x).item()
    pyro.set_rng_seed(5)
    q, p = vae.q(x), vae.prior()
    z = q.rsample()
    recon = vae.p_x(z).log_prob(x).sum()
    sampled = -(recon - (q.log_prob(z) - p.log_prob(z)).sum()).item()
    if site.analytic:
        analytic = -(recon - kl_divergence(q, p).sum()).item()
        assert analytic != pytest.approx(sampled)  # the two hypotheses are distinguishable
        assert loss == pytest.approx(analytic, rel=1e-10)
    else:
        assert loss == pytest.approx(sampled, rel=1e-10)


def test_train_logs_and_records_the_report(tmp_path):
    config = load_config(
        overrides=["train.epochs=0", f"output.dir={tmp_path / 'run'}", "model.prior=mixture",
                   "model.encoder.hidden=[8]", "model.decoder.hidden=[8]"]
    )
    lines = []
    train(config, progress=False, log=lines.append)
    expected = "latent z: KL estimated by Monte Carlo: no closed form for Normal || MixtureSameFamily"
    assert lines[0] == expected
    text = (tmp_path / "run" / "config.toml").read_text()
    assert text.startswith(f"# {expected}\n")
    assert load_run_config(tmp_path / "run").model.prior.name == "mixture"  # still loads


def test_m2_label_site_is_reported_as_enumerated():
    import pyrovae as pv
    from pyrovae.infer.analytic import kl_report

    m2 = pv.MODELS.get("m2").build((1, 4, 4), 3, z_dim=2)
    lines = {r.site: r.line for r in kl_report(m2, "trace")}
    assert "summed out exactly by parallel enumeration" in lines["y"]
    assert "Monte Carlo" in lines["z"]


@pytest.mark.parametrize("kind", ["m2", "adgm", "sdgm"])
def test_a_kind_that_refuses_meanfield_is_not_told_to_use_it(kind):
    """M2 trains with the trace objective only (its enumerated form): its start-up lines do not
    suggest the meanfield objective, though torch has the closed form for its z."""
    import pyrovae as pv

    model = pv.MODELS.get(kind).build((1, 4, 4), 3, z_dim=2)
    report = {r.site: r for r in kl_report(model, "trace")}
    assert report["z"].closed_form and not report["z"].meanfield_trains
    assert "closed form exists for Normal || Normal" in report["z"].line
    for site in report.values():
        assert "meanfield" not in site.line and "--objective" not in site.line, site.line


def test_a_vae_is_told_to_use_meanfield_in_words_for_python_and_the_cli():
    (site,) = kl_report(vae_with("normal", "diag-normal"), "trace")
    assert site.meanfield_trains
    assert 'the meanfield objective uses it: train.objective = "meanfield"' in site.line
    assert "--objective" not in site.line


def test_labels_without_m2_are_refused():
    import pyrovae as pv

    with pytest.raises(pv.ConfigError, match='model.kind = "m2"'):
        pv.load_config(None, ["data.labels=50"])
