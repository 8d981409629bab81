"""The comparison table's numbers, on the linear-Gaussian VAE with the exact posterior, where
every importance-sampled value is exactly log p(x) (so mean, spread and standard error are
known in closed form)."""

import math

import pyro
import pytest
import torch

import pyrovae.infer.traces as traces
from pyrovae.compare import Estimator, compare, compare_estimators, format_comparison, jsonable
from pyrovae.infer import evaluate_elbo


def test_table_statistics_are_the_closed_forms(linear_gaussian):
    lg = linear_gaussian
    log_px = lg.log_px()
    rows = compare_estimators(lg.vae, lg.x, [Estimator("importance", k) for k in (1, 30)],
                              repeats=3)
    for row in rows:
        assert row["mean"] == pytest.approx(log_px.mean().item(), abs=1e-10)
        assert row["stderr"] == pytest.approx(log_px.std().item() / math.sqrt(len(log_px)),
                                              rel=1e-10)
        assert row["std"] == pytest.approx(0.0, abs=1e-10)  # no Monte Carlo noise at all
        assert row["available"] and row["seconds"] >= 0


def test_std_across_runs_is_the_spread_of_the_run_means(linear_gaussian):
    lg = linear_gaussian
    lg.set_poor_guide()
    (row,) = compare_estimators(lg.vae, lg.x, [Estimator("elbo-mc", 1)], repeats=4, seed=7)
    means = []
    for r in range(4):
        pyro.set_rng_seed(7 + r)
        means.append(evaluate_elbo(lg.vae, lg.x, num_samples=1, kl="monte-carlo")["elbo"])
    means = torch.tensor(means)
    assert row["mean"] == pytest.approx(means.mean().item(), rel=1e-12)
    assert row["std"] == pytest.approx(means.std().item(), rel=1e-9)


def test_missing_closed_form_kl_is_marked_not_available(linear_gaussian, monkeypatch):
    def no_closed_form(q, p):
        raise NotImplementedError

    monkeypatch.setattr(traces, "kl_divergence", no_closed_form)
    result = compare(linear_gaussian.vae, linear_gaussian.x[:20],
                     [Estimator("elbo-analytic", 1), Estimator("importance", 2)], repeats=2,
                     particles=(1,), draws=2)
    analytic, importance = result["estimators"]
    assert not analytic["available"] and math.isnan(analytic["mean"])
    assert importance["available"]
    assert jsonable(result)["estimators"][0]["mean"] is None
    assert "n/a" in format_comparison(result)


def _without_times(result):
    return {key: [{k: v for k, v in row.items() if k != "seconds"} for row in value]
            if isinstance(value, list) else value for key, value in result.items()}


def test_progress_bar_changes_no_number(linear_gaussian, capsys):
    """The bar forced on gives the same numbers, bit for bit, as off, and leaves the RNG in the
    same state; it goes to stderr (run by run, to 100 %), nothing to stdout."""
    lg = linear_gaussian
    lg.set_poor_guide()
    estimators = [Estimator("elbo-mc", 3), Estimator("elbo-analytic", 2),
                  Estimator("importance", 5), Estimator("naive", 4)]
    results, states = [], []
    for progress in (False, True, False):
        results.append(compare(lg.vae, lg.x[:40], estimators, repeats=2, particles=(1, 3),
                               draws=3, gradient_batch=10, progress=progress))
        states.append(torch.get_rng_state())
        out, err = capsys.readouterr()
        assert out == ""
        if progress:
            assert "compare: 100%" in err and "run 12/12: 3 gradients of meanfield" in err
        else:
            assert err == ""
    assert _without_times(results[1]) == _without_times(results[0])
    assert _without_times(results[2]) == _without_times(results[0])
    assert torch.equal(states[1], states[0])
    compare(lg.vae, lg.x[:20], [Estimator("importance", 2)], repeats=1, particles=(1,),
            draws=2)  # progress=None: not a terminal, no bar
    assert capsys.readouterr().err == ""


def test_progress_bar_counts_the_runs_that_are_not_available(linear_gaussian, monkeypatch,
                                                               capsys):
    def no_closed_form(q, p):
        raise NotImplementedError

    monkeypatch.setattr(traces, "kl_divergence", no_closed_form)
    compare(linear_gaussian.vae, linear_gaussian.x[:20],
            [Estimator("elbo-analytic", 1), Estimator("importance", 2)], repeats=2,
            particles=(1,), draws=2, progress=True)
    err = capsys.readouterr().err
    assert "compare: 100%" in err and "run 3/6: importance K=2" in err
