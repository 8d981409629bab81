"""β (the ``kl_weight`` argument of the model, guide and loss) scales exactly the KL part of the
loss. The reference is written by hand: −(log p(x|z) − β KL(q || p)) at the same z draw."""

import pytest
import torch
from pyro.infer import TraceMeanField_ELBO
from torch.distributions import kl_divergence

import pyro
from pyrovae import VAE


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0, 2.5])
def test_beta_scales_exactly_the_kl_term(beta, float64):
    vae = VAE.build((1, 3, 3), z_dim=2, encoder={"name": "mlp", "hidden": [8]},
                    decoder={"name": "mlp", "hidden": [8]}).double()
    x = torch.randint(0, 2, (5, 1, 3, 3)).double()
    pyro.set_rng_seed(3)
    loss = vae.loss(TraceMeanField_ELBO(), x, kl_weight=beta)
    pyro.set_rng_seed(3)  # the same noise: the guide's rsample draws one standard normal (5, 2)
    q = vae.q(x)
    z = q.rsample()
    recon = vae.p_x(z).log_prob(x).sum()
    kl = kl_divergence(q, vae.prior()).sum()
    assert loss.item() == pytest.approx(-(recon - beta * kl).item(), rel=1e-12, abs=1e-10)
