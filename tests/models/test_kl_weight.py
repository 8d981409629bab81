"""β (``VAE.kl_weight``) scales exactly the KL part of the loss, and warm-up follows its
schedule. The reference is written by hand: −(log p(x|z) − β KL(q || p)) at the same z draw."""

import pytest
import torch
from pyro.infer import TraceMeanField_ELBO
from torch.distributions import kl_divergence

import pyro
from pyrovae import VAE, Trainer, load_dataset
from pyrovae.train import kl_weight_at


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0, 2.5])
def test_beta_scales_exactly_the_kl_term(beta, float64):
    vae = VAE.build((1, 3, 3), z_dim=2, encoder={"name": "mlp", "hidden": [8]},
                    decoder={"name": "mlp", "hidden": [8]}).double()
    vae.kl_weight = beta
    x = torch.randint(0, 2, (5, 1, 3, 3)).double()
    pyro.set_rng_seed(3)
    loss = TraceMeanField_ELBO().differentiable_loss(vae.model, vae.guide, x)
    pyro.set_rng_seed(3)  # the same noise: the guide's rsample draws one standard normal (5, 2)
    q = vae.q(x)
    z = q.rsample()
    recon = vae.p_x(z).log_prob(x).sum()
    kl = kl_divergence(q, vae.prior()).sum()
    assert loss.item() == pytest.approx(-(recon - beta * kl).item(), rel=1e-12, abs=1e-10)


def test_warmup_schedule_values():
    """β (e + 1) / N for epochs e = 0, 1, ... until it reaches β (it starts above 0)."""
    assert [kl_weight_at(e, 1.0, 4) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [kl_weight_at(e, 0.5, 2) for e in range(4)] == [0.25, 0.5, 0.5, 0.5]
    assert kl_weight_at(0, 2.0, 0) == 2.0 and kl_weight_at(7, 2.0, 0) == 2.0


def test_trainer_applies_the_schedule_per_epoch():
    data = load_dataset("digits", binarize="dynamic")
    vae = VAE.build(data.event_shape, z_dim=2, encoder={"name": "mlp", "hidden": [8]},
                    decoder={"name": "mlp", "hidden": [8]})
    rows = Trainer(vae, kl_weight=0.8, kl_warmup_epochs=2).fit(data, epochs=3, batch_size=512)
    assert [r["kl_weight"] for r in rows] == pytest.approx([0.4, 0.8, 0.8])
