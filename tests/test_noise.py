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


# -- evaluation noise: indexed by example ------------------------------------------------------

def test_indexed_normal_is_the_same_bits_however_the_examples_and_draws_are_cut():
    from pyrovae.noise import indexed_normal

    whole = indexed_normal(11, (9, 40, 3), axis=1, sample_axis=0)
    for cut in (1, 17, 39):
        parts = [indexed_normal(11, (9, cut, 3), axis=1, sample_axis=0),
                 indexed_normal(11, (9, 40 - cut, 3), axis=1, offset=cut, sample_axis=0)]
        assert torch.equal(torch.cat(parts, 1), whole)
    for cut in (1, 4):  # the draws in chunks (the bound's sample chunks)
        parts = [indexed_normal(11, (cut, 40, 3), axis=1, sample_axis=0),
                 indexed_normal(11, (9 - cut, 40, 3), axis=1, sample_axis=0, sample_offset=cut)]
        assert torch.equal(torch.cat(parts, 0), whole)
    assert not torch.equal(indexed_normal(12, (9, 40, 3), axis=1, sample_axis=0), whole)
    # another example, draw or coordinate gets other numbers
    assert len(set(whole.flatten().tolist())) == whole.numel()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_indexed_normal_is_standard_normal_and_uncorrelated(dtype):
    from pyrovae.noise import indexed_normal

    x = indexed_normal(3, (4000, 250), axis=0, dtype=dtype)
    assert x.dtype == dtype
    x = x.double()
    n = x.numel()
    se = 1 / math.sqrt(n)
    assert abs(x.mean().item()) < 4 * se
    assert abs(x.var().item() - 1) < 4 * math.sqrt(2 / n)
    assert abs((x ** 3).mean().item()) < 4 * math.sqrt(15 / n)
    assert abs((x ** 4).mean().item() - 3) < 4 * math.sqrt(96 / n)
    for a, b in ((x[1:], x[:-1]), (x[:, 1:], x[:, :-1])):  # neighbouring examples, coordinates
        assert abs((a * b).mean().item()) < 4 / math.sqrt(a.numel())
    y = indexed_normal(4, (4000, 250), axis=0, dtype=dtype).double()  # another key
    assert abs((x * y).mean().item()) < 4 * se
    # the normal CDF of the numbers is uniform: deciles within 4 standard errors
    u = torch.special.ndtr(x.flatten())
    counts = torch.histc(u, bins=10, min=0, max=1)
    assert ((counts - n / 10).abs() < 4 * math.sqrt(n * 0.09)).all(), counts


def test_indexed_noise_reads_nothing_of_torchs_generator_and_is_keyed_by_its_seed(digits):
    from pyrovae.noise import IndexedNoise, evaluation_key

    vae = pv.VAE.build(digits.event_shape, z_dim=5)
    x = digits.train.x[:30]
    trace = poutine.trace(vae.guide).get_trace
    torch.manual_seed(5)
    state = torch.get_rng_state()
    with IndexedNoise(evaluation_key()):
        first = trace(x).nodes["z"]["value"]
    assert torch.equal(torch.get_rng_state(), state)
    with IndexedNoise(evaluation_key(5)):  # the seed torch was seeded with
        assert torch.equal(trace(x).nodes["z"]["value"], first)
    with IndexedNoise(evaluation_key(6)):
        assert (trace(x).nodes["z"]["value"] - first).abs().max() > 0.1
    with IndexedNoise(evaluation_key(5), offset=10):  # rows 10.. of the whole
        torch.testing.assert_close(trace(x[10:]).nodes["z"]["value"], first[10:], rtol=0,
                                   atol=1e-6)


def test_indexed_noise_leaves_other_noise_to_torchs_generator():
    """Evaluation does not refuse a site whose noise is not standard normal (training does):
    it is drawn from torch's generator, as before."""
    from pyrovae.noise import IndexedNoise

    def program():
        with pyro.plate("data", 4):
            return pyro.sample("g", dist.Gamma(torch.ones(4), 1.0))

    with IndexedNoise(1):
        torch.manual_seed(0)
        value = program()
    torch.manual_seed(0)
    assert torch.equal(value, program())
