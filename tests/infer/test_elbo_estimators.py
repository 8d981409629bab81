"""Monte Carlo and analytic-KL ELBO estimates against the closed-form ELBO of a linear-Gaussian
VAE (tolerance: 4 standard errors of the mean over examples × repeats, fixed seed)."""

import pytest
import torch

from pyrovae.infer import elbo_terms


def test_mc_elbo_with_exact_posterior_is_log_px(linear_gaussian):
    # log p(x, z) − log q*(z|x) = log p(x) for every z, so even one particle is exact
    lg = linear_gaussian
    terms, method = elbo_terms(lg.vae, lg.x, num_samples=1, kl="monte-carlo")
    assert method == "monte-carlo"
    torch.testing.assert_close(terms["elbo"], lg.log_px(), rtol=0, atol=1e-10)
    torch.testing.assert_close(lg.elbo(), lg.log_px(), rtol=0, atol=1e-10)  # the closed form


@pytest.mark.parametrize("kl", ["monte-carlo", "analytic"])
@pytest.mark.parametrize("num_samples", [1, 10])
def test_elbo_estimates_are_unbiased(linear_gaussian, mean_and_stderr, kl, num_samples):
    lg = linear_gaussian
    lg.set_poor_guide()
    exact = lg.elbo()
    diff = torch.stack(
        [elbo_terms(lg.vae, lg.x, num_samples, kl=kl)[0]["elbo"] - exact for _ in range(10)]
    )
    mean, se = mean_and_stderr(diff)
    assert abs(mean) < 4 * se, (mean, se)


def test_elbo_is_below_log_px_for_a_poor_guide(linear_gaussian, mean_and_stderr):
    lg = linear_gaussian
    lg.set_poor_guide()
    assert (lg.elbo() < lg.log_px()).all()  # closed form: the gap is KL(q || p(z|x)) > 0
    estimate = elbo_terms(lg.vae, lg.x, 10, kl="analytic")[0]["elbo"]
    mean, se = mean_and_stderr(estimate - lg.log_px())
    assert mean + 3 * se < 0, (mean, se)



@pytest.mark.parametrize("kind", ["vae", "m2", "adgm"])
def test_evaluation_does_not_depend_on_the_batch_size(kind):
    """The draws are indexed by example (pyrovae.noise.IndexedNoise): any batch size gives the
    same ELBO, terms and accuracy, up to float rounding of the batched matrix products; the
    seed changes the draws, and torch's generator is left as it was."""
    import pyro

    import pyrovae as pv
    from pyrovae.infer import evaluate_elbo

    data = pv.load_dataset("digits", binarize="static")
    pyro.set_rng_seed(0)
    if kind == "vae":
        model = pv.VAE.build(data.event_shape, z_dim=3, encoder={"name": "mlp", "hidden": [16]},
                             decoder={"name": "mlp", "hidden": [16]})
    else:
        model = pv.MODELS.get(kind).build(data.event_shape, data.num_classes, z_dim=3)
    model.eval()
    x, y = data.test.x[:150], data.test.y[:150]
    state = torch.get_rng_state()
    whole = model.evaluate(x, y, batch_size=1000, num_samples=3)
    assert torch.equal(torch.get_rng_state(), state)
    for batch_size in (7, 64):
        cut = model.evaluate(x, y, batch_size=batch_size, num_samples=3)
        for key in ("elbo", "reconstruction", "kl", "elbo_stderr", "accuracy"):
            if key in whole:
                assert cut[key] == pytest.approx(whole[key], rel=1e-6, abs=1e-6), key
    if kind != "m2":  # an M2's KL terms are analytic and exact sums: no draw for the ELBO
        other = evaluate_elbo(model, x, 1000, num_samples=3, kl="monte-carlo",
                              y=model.given(y), seed=1)
        again = evaluate_elbo(model, x, 1000, num_samples=3, kl="monte-carlo",
                              y=model.given(y), seed=1)
        assert other == again
        assert abs(other["elbo"] - evaluate_elbo(model, x, 1000, num_samples=3,
                                                 kl="monte-carlo", y=model.given(y),
                                                 seed=2)["elbo"]) > 1e-4
