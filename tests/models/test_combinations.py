"""Every prior × likelihood × guide × network trains: a few SVI steps on a fixed tiny batch keep
the loss finite and lower it.

Parametrized over the registries, so a newly registered component joins automatically (with its
default options; component-specific options are covered by the batteries in tests/priors,
tests/likelihoods, tests/guides and tests/nets). The loss is compared with common random numbers:
the same seed before and after training, averaged over 16 vectorized particles, so the Monte
Carlo noise largely cancels and the test measures the change of the parameters.
"""

import itertools

import pyro
import pytest
import torch
from pyro.infer import Trace_ELBO

from pyrovae import VAE
from pyrovae.guides import GUIDES
from pyrovae.likelihoods import LIKELIHOODS
from pyrovae.nets import DECODERS, ENCODERS
from pyrovae.priors import PRIORS

EVENT = (1, 4, 4)
STEPS = 25
#: tiny networks per name
TINY = {"mlp": {"hidden": [16]}, "conv": {"channels": [4], "hidden": 16}, "gated": {"hidden": [16]}}
#: small component options: fewer mixture components / pseudo-inputs keep the test fast
OPTIONS = {"mixture": {"components": 3}, "vamp": {"components": 3}}


def combinations():
    networks = sorted(set(ENCODERS.names()) & set(DECODERS.names()))
    return list(itertools.product(PRIORS.names(), LIKELIHOODS.names(), GUIDES.names(), networks))


def batch():
    # grey levels k/16, k = 1..15: inside every support (the open interval of the Beta, the
    # 256-level grid of the categorical) and shared by every combination
    g = torch.Generator().manual_seed(0)
    return torch.randint(1, 16, (8, *EVENT), generator=g).float() / 16


def mean_loss(vae, elbo, x):
    pyro.set_rng_seed(123)
    with torch.no_grad():
        return elbo.differentiable_loss(vae.model, vae.guide, x).item()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: thread start-up costs more than it saves on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.filterwarnings("ignore:the data has grey levels")  # bernoulli on grey levels
@pytest.mark.parametrize(
    "prior,likelihood,guide,net", combinations(), ids=["-".join(c) for c in combinations()]
)
def test_combination_trains(prior, likelihood, guide, net):
    torch.manual_seed(0)
    vae = VAE.build(
        EVENT,
        z_dim=2,
        prior={"name": prior, **OPTIONS.get(prior, {})},
        likelihood=likelihood,
        guide=guide,
        encoder={"name": net, **TINY[net]},
        decoder={"name": net, **TINY[net]},
    )
    x = batch()
    vae.likelihood.check_data(x)
    evaluate = Trace_ELBO(num_particles=16, vectorize_particles=True, max_plate_nesting=1)
    train = Trace_ELBO(max_plate_nesting=1)
    before = mean_loss(vae, evaluate, x)
    optimizer = torch.optim.Adam(vae.parameters(), lr=0.02)
    for _ in range(STEPS):
        loss = train.differentiable_loss(vae.model, vae.guide, x)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = mean_loss(vae, evaluate, x)
    assert after < before, (before, after)
