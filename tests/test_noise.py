"""Keyed noise (pyrovae.noise): the guide's draws depend on (seed, step, site, example) only."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine

import pyrovae as pv
from pyrovae.errors import ConfigError
from pyrovae.noise import KeyedNoise, keyed_normal, mix64, site_seed


@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic", labels=50)


def guide_z(program, x, *args, **noise):
    with KeyedNoise(**noise):
        return poutine.trace(program).get_trace(x, *args).nodes["z"]["value"]


@pytest.mark.parametrize("guide", ["diag-normal", "full-rank", "iaf"])
def test_shards_draw_the_rows_of_the_whole_batch(digits, guide):
    """Cut at any point, the shards' draws are the whole batch's rows (to 1e-6: the encoder's
    matrix product on 1 row takes another kernel than on 30, ~3e-8 apart; the noise itself is
    the same bits, see the next test)."""
    vae = pv.VAE.build(digits.event_shape, z_dim=5, guide=guide)
    x = digits.train.x[:30]
    whole = guide_z(vae.guide, x, seed=1, step=7)
    for cut in (1, 13, 29):
        first = guide_z(vae.guide, x[:cut], seed=1, step=7, offset=0, total=30)
        second = guide_z(vae.guide, x[cut:], seed=1, step=7, offset=cut, total=30)
        torch.testing.assert_close(torch.cat([first, second]), whole, rtol=0, atol=1e-6)


def test_keyed_normal_shards_are_the_same_bits():
    seed = site_seed(4, 2, "z")
    whole = keyed_normal(seed, (3, 10, 2), axis=1)
    parts = [keyed_normal(seed, (3, n, 2), axis=1, offset=o, total=10)
             for o, n in ((0, 4), (4, 5), (9, 1))]
    assert torch.equal(torch.cat(parts, dim=1), whole)


def test_vectorized_particles_and_enumerated_classes_are_sharded_by_example(digits):
    """M2's unlabelled guide draws z of shape (classes, batch, z) and vectorized particles add
    a dimension on the left: the example axis is found from the plate in both."""
    m2 = pv.models.M2.build(digits.event_shape, 10, z_dim=3)
    x = digits.train.x[:12]
    guide = poutine.enum(m2.guide, first_available_dim=-2)
    whole = guide_z(guide, x, seed=0, step=0)
    assert whole.shape == (10, 12, 3)
    halves = [guide_z(guide, x[:5], seed=0, step=0, offset=0, total=12),
              guide_z(guide, x[5:], seed=0, step=0, offset=5, total=12)]
    torch.testing.assert_close(torch.cat(halves, dim=1), whole, rtol=0, atol=1e-6)

    vae = pv.VAE.build(digits.event_shape, z_dim=3)

    def particles(xb):
        with pyro.plate("particles", 4, dim=-2):
            vae.guide(xb)

    whole = guide_z(particles, x, seed=0, step=0)
    assert whole.shape == (4, 12, 3)
    halves = [guide_z(particles, x[:7], seed=0, step=0, offset=0, total=12),
              guide_z(particles, x[7:], seed=0, step=0, offset=7, total=12)]
    torch.testing.assert_close(torch.cat(halves, dim=1), whole, rtol=0, atol=1e-6)


def test_the_key_changes_the_draws_and_nothing_else_does(digits):
    vae = pv.VAE.build(digits.event_shape, z_dim=4)
    x = digits.train.x[:8]
    base = guide_z(vae.guide, x, seed=0, step=3)
    pyro.set_rng_seed(123)  # torch's generator plays no part
    torch.testing.assert_close(guide_z(vae.guide, x, seed=0, step=3), base, rtol=0, atol=0)
    for other in ({"seed": 1, "step": 3}, {"seed": 0, "step": 4}):
        assert (guide_z(vae.guide, x, **other) - base).abs().min() > 0
    assert site_seed(0, 3, "z") != site_seed(0, 3, "w") != site_seed(0, 3, "z", draw=1)
    assert mix64(1, 2) != mix64(2, 1) and 0 <= site_seed(2**40, 2**40, "z") < 2**63


def test_keyed_noise_is_standard_normal():
    """200 000 draws: mean within 5 standard errors of 0, variance within 5 of 1, and the
    neighbouring examples' draws uncorrelated within 5 standard errors (fixed seeds)."""
    eps = keyed_normal(site_seed(0, 0, "z"), (100_000, 2), axis=0, dtype=torch.float64)
    n = eps.numel()
    assert abs(eps.mean().item()) < 5 / math.sqrt(n)
    assert abs(eps.var().item() - 1) < 5 * math.sqrt(2 / n)
    corr = (eps[1:, 0] * eps[:-1, 0]).mean().item()
    assert abs(corr) < 5 / math.sqrt(eps.shape[0])
    steps = torch.stack([keyed_normal(site_seed(0, s, "z"), (1000,), axis=0) for s in (0, 1)])
    assert abs(torch.corrcoef(steps)[0, 1].item()) < 5 / math.sqrt(1000)


def test_a_site_drawing_other_noise_is_refused_in_one_line():
    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("u", dist.Uniform(torch.zeros(x.shape[0]), 1.0))

    with pytest.raises(ConfigError, match="site 'u' draws noise with .*rand") as info:
        with KeyedNoise(0, 0):
            guide(torch.zeros(3))
    assert "\n" not in str(info.value)


def test_observed_enumerated_and_discrete_sites_are_left_alone():
    def program(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("b", dist.Bernoulli(0.5 * torch.ones(x.shape[0])))  # no rsample
            pyro.sample("x", dist.Normal(0.0, 1.0), obs=x)

    pyro.set_rng_seed(0)
    expected = poutine.trace(program).get_trace(torch.zeros(5)).nodes["b"]["value"]
    pyro.set_rng_seed(0)
    with KeyedNoise(0, 0):
        got = poutine.trace(program).get_trace(torch.zeros(5)).nodes["b"]["value"]
    assert torch.equal(got, expected)


def test_trainer_steps_are_keyed_by_the_global_step(digits):
    """Two trainers from the same weights take identical steps whatever torch's generator
    holds; a resumed trainer continues the key from its saved step count."""
    def run(steps, reseed):
        pyro.set_rng_seed(0)
        vae = pv.VAE.build(digits.event_shape, z_dim=4)
        trainer = pv.Trainer(vae, seed=5, progress=False)
        for i in range(steps):
            pyro.set_rng_seed(reseed + i)
            trainer.step(digits.train.x[:16], index=i)
        return vae, trainer

    a, _ = run(3, 0)
    b, trainer = run(3, 99)
    assert trainer.global_step == 3 and trainer.state_dict()["global_step"] == 3
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
