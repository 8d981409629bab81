"""The importance-sampled bound against the closed forms of a linear-Gaussian VAE.

Statistical checks use the fixed seed of tests/conftest.py and compare means over the 200
examples with tolerances of a few standard errors of those means (3 se one-sided: a 0.13 % chance
of a false failure for a correct estimator if the seed were random; a broken estimator is off by
tens of standard errors, see the report of which perturbations were tried).
"""

import math

import pytest
import torch

from pyrovae.infer import evaluate_log_likelihood, importance_bound
from pyrovae.infer.logmeanexp import log_mean_exp


@pytest.mark.parametrize("num_samples", [1, 7, 100])
def test_exact_posterior_gives_log_px_for_any_k(linear_gaussian, num_samples):
    # with q = p(z|x) every weight p(x,z)/q(z|x) equals p(x)
    lg = linear_gaussian
    bound = importance_bound(lg.vae, lg.x, num_samples, sample_chunk=3, image_chunk=64)
    torch.testing.assert_close(bound, lg.log_px(), rtol=0, atol=1e-10)


def test_k1_is_the_elbo_in_expectation(linear_gaussian, mean_and_stderr):
    lg = linear_gaussian
    lg.set_poor_guide()
    diff = torch.cat([importance_bound(lg.vae, lg.x, 1) - lg.elbo() for _ in range(5)])
    mean, se = mean_and_stderr(diff)
    assert abs(mean) < 4 * se, (mean, se)


def test_bound_rises_towards_log_px_and_stays_below(linear_gaussian, mean_and_stderr):
    lg = linear_gaussian
    lg.set_poor_guide()
    log_px = lg.log_px()
    ks = [1, 3, 10, 30, 100]
    # E[L_K] per example, averaged over 10 draws so the gains (0.1-5 nats) stand out of the
    # Monte Carlo noise; the 1000-sample bound is a single draw
    bounds = {k: torch.stack([importance_bound(lg.vae, lg.x, k) for _ in range(10)]).mean(0)
              for k in ks}
    bounds[1000] = importance_bound(lg.vae, lg.x, 1000)
    for small, large in zip(ks[:-1], ks[1:]):
        mean, se = mean_and_stderr(bounds[large] - bounds[small])  # paired per example
        assert mean > 3 * se, f"L_{large} does not rise above L_{small}: {mean} ± {se}"
    for k in ks:
        mean, se = mean_and_stderr(bounds[k] - log_px)
        assert mean + 3 * se < 0, f"L_{k} not below log p(x): {mean} ± {se}"
    mean, se = mean_and_stderr(bounds[1000] - log_px)
    assert mean < 3 * se, f"L_1000 above log p(x): {mean} ± {se}"
    # and the remaining gap is small next to the ELBO's (about 6 nats here)
    assert mean > -0.1, mean


def test_chunked_bound_equals_unchunked_with_the_same_samples(linear_gaussian):
    """Pin the samples: draw z once, feed them chunk by chunk through the library's weights, and
    compare with a hand-written log-mean-exp over all of them at once."""
    lg = linear_gaussian
    lg.set_poor_guide()
    K, N = 50, lg.x.shape[0]
    z = lg.vae.q(lg.x).sample((K,))  # (K, N, d)
    q = lg.vae.q(lg.x)
    log_q = q.log_prob(z).detach()
    hand_log_w = lg.log_joint(lg.x, z) - log_q
    expected = torch.logsumexp(hand_log_w, 0) - math.log(K)

    # a sampler that hands out the pinned z in order but weighs them with the library's
    # model (q, prior, p_x), like importance_sampler does
    def pinned_sampler(x, y):
        rows = torch.cdist(x, lg.x).argmin(1)  # which examples this chunk holds
        q, prior, used = lg.vae.q(x), lg.vae.prior(), [0]

        def draw(k):
            zk = z[used[0] : used[0] + k, rows]
            used[0] += k
            return lg.vae.p_x(zk).log_prob(x) + prior.log_prob(zk) - q.log_prob(zk)

        return draw

    for sample_chunk, image_chunk in [(K, N), (7, 33), (1, 200), (50, 1)]:
        got = log_mean_exp(pinned_sampler, lg.x, K, sample_chunk=sample_chunk,
                           image_chunk=image_chunk)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_evaluate_reports_mean_and_stderr(linear_gaussian):
    lg = linear_gaussian  # exact guide: the per-example values are exactly log p(x)
    result = evaluate_log_likelihood(lg.vae, lg.x, num_samples=4)
    log_px = lg.log_px()
    assert result["log_likelihood"] == pytest.approx(log_px.mean().item(), abs=1e-10)
    assert result["log_likelihood_stderr"] == pytest.approx(
        log_px.std().item() / math.sqrt(log_px.numel()), rel=1e-10
    )
    assert result["iwae_k"] == 4 and result["num_examples"] == lg.x.shape[0]


def _bound_with(lg, monkeypatch, max_rows=64, **options):
    """The per-example bounds behind evaluate_log_likelihood (read off what it summarizes),
    its result and the RNG state after it, from seed 0."""
    import pyro

    import pyrovae.infer.importance as importance

    seen = []
    summarize = importance.summarize
    monkeypatch.setattr(importance, "summarize", lambda v: seen.append(v) or summarize(v))
    pyro.set_rng_seed(0)
    result = evaluate_log_likelihood(lg.vae, lg.x, 50, max_rows=max_rows, **options)
    return seen[0], result, torch.get_rng_state()


@pytest.mark.parametrize("probe_seconds", [0.0, 1e9])  # the probe: one chunk, every chunk
def test_progress_bar_and_announcement_change_no_number(linear_gaussian, monkeypatch, capsys,
                                                        probe_seconds):
    """The bar (forced on) and the announcement give the bounds bit for bit of neither, and
    those of one pass drawing all K samples of all the examples at once (the draws are indexed
    by example and sample: no chunking changes them), and leave torch's generator untouched;
    the probe's chunks are not computed twice."""
    import pyro

    import pyrovae.infer.importance as importance
    from pyrovae.infer import traces
    from pyrovae.noise import IndexedNoise, evaluation_key

    lg = linear_gaussian
    lg.set_poor_guide()  # the weights vary: the draws matter
    monkeypatch.setattr(importance, "PROBE_SECONDS", probe_seconds)
    pyro.set_rng_seed(0)  # K = 50, 64 rows: chunks of one image, 200 of them
    reference_rng = torch.get_rng_state()
    with IndexedNoise(evaluation_key(0), samples=traces.SAMPLE_PLATE):  # all in one pass
        log_w = traces.log_weights(lg.vae, lg.x, None, 50).double()
    reference = torch.logsumexp(log_w, 0) - math.log(50)
    calls = []
    log_weights = traces.log_weights
    monkeypatch.setattr(traces, "log_weights", lambda *a: calls.append(1) or log_weights(*a))
    plain, plain_result, plain_rng = _bound_with(lg, monkeypatch, progress=False)
    assert len(calls) == 200
    assert capsys.readouterr().err == ""
    lines = []
    for options in ({"progress": True}, {"progress": True, "log": lines.append},
                    {"progress": False, "log": lines.append}):
        calls.clear()
        got, result, rng = _bound_with(lg, monkeypatch, **options)
        assert len(calls) == 200  # each chunk once, the probe's included
        assert torch.equal(got, plain)
        torch.testing.assert_close(got, reference, rtol=0, atol=1e-5)  # float rounding only
        assert result == plain_result
        assert torch.equal(rng, plain_rng) and torch.equal(rng, reference_rng)
    assert len(lines) == 2 and all(line.startswith(
        "importance-sampled bound on 200 examples with K = 50 samples each: ") for line in lines)
    err = capsys.readouterr().err
    assert "importance-sampled bound: 100%" in err and "200/200" in err
    assert "importance-sampled bound on" not in err  # log is the caller's, not stderr


def test_progress_bar_is_off_by_default_off_a_terminal(linear_gaussian, capsys):
    """``progress=None`` (the default) shows the bar on a terminal only: pytest's captured
    stderr is not one; ``progress=True`` shows tqdm's bar there, and nothing on stdout."""
    lg = linear_gaussian
    evaluate_log_likelihood(lg.vae, lg.x, 5)
    assert capsys.readouterr().err == ""
    evaluate_log_likelihood(lg.vae, lg.x, 5, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "importance-sampled bound: 100%" in err and "example/s" in err
    evaluate_log_likelihood(lg.vae, lg.x[:0], 5, progress=True, log=print)  # no examples
    assert "on 0 examples" in capsys.readouterr().out


@pytest.mark.parametrize("seconds, text", [
    (0.0, "under 1 s"), (0.4, "under 1 s"), (1.2, "1 s"), (35, "35 s"), (59.4, "59 s"),
    (59.6, "1 min"), (240, "4 min"), (1234, "21 min"), (3599, "1 h"), (4800, "1 h 20 min"),
    (86400, "24 h"), (math.inf, "unknown"), (math.nan, "unknown"),
])
def test_format_duration(seconds, text):
    from pyrovae.progress import format_duration

    assert format_duration(seconds) == text


def test_format_duration_refuses_a_negative_time():
    from pyrovae.progress import format_duration

    with pytest.raises(ValueError, match="negative"):
        format_duration(-1)


def test_the_bound_does_not_depend_on_the_chunks(linear_gaussian):
    """Chunks of images and samples of any size give the same bounds (the draws are indexed by
    example and sample), up to float rounding; the seed changes them."""
    lg = linear_gaussian
    lg.set_poor_guide()
    whole = importance_bound(lg.vae, lg.x[:60], 30, seed=4)
    for sample_chunk, image_chunk in ((7, 5), (30, 1), (1, 60)):
        cut = importance_bound(lg.vae, lg.x[:60], 30, sample_chunk=sample_chunk,
                               image_chunk=image_chunk, seed=4)
        torch.testing.assert_close(cut, whole, rtol=0, atol=1e-5)
    tail = importance_bound(lg.vae, lg.x[20:60], 30, seed=4)  # the examples' own draws ...
    assert (tail - whole[20:]).abs().max() > 1e-3  # ... are by index in the x given
    assert (importance_bound(lg.vae, lg.x[:60], 30, seed=5) - whole).abs().max() > 1e-3
