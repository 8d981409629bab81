"""``pyrovae evaluate --iwae-k`` and ``pyrovae compare`` end to end on a tiny digits run."""

import json
import math

import pyro
import pytest

import pyrovae as pv
from pyrovae.cli import main
from pyrovae.runs import open_run

TINY = [
    "--epochs", "2", "--z-dim", "2", "--batch-size", "64", "--quiet",
    "--set", "model.encoder.hidden=[16]", "--set", "model.decoder.hidden=[16]",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "run"
    assert main(["train", "--out", str(out), *TINY]) == 0
    return out


def test_evaluate_iwae_k_adds_the_log_likelihood(trained, capsys):
    assert main(["evaluate", str(trained), "--iwae-k", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["iwae_k"] == 200 and result["num_examples"] == 359
    for key in ("log_likelihood", "log_likelihood_stderr", "log_likelihood_seconds"):
        assert math.isfinite(result[key]), key
    assert result["log_likelihood_stderr"] > 0
    # the bound is above the ELBO in expectation; with K = 200 the gap dwarfs the noise
    assert result["log_likelihood"] > result["elbo"]
    # it is the library's bound on the test split with the same seed
    from pyrovae.cli import _open_run
    from pyrovae.infer import evaluate_log_likelihood
    from pyrovae.run_data import load_data

    config, module, _, _ = _open_run(trained)
    pyro.set_rng_seed(0)
    expected = evaluate_log_likelihood(module, load_data(config).test.x, 200)
    assert result["log_likelihood"] == pytest.approx(expected["log_likelihood"], rel=1e-9)
    assert main(["evaluate", str(trained), "--iwae-k", "10"]) == 0
    assert "importance-sampled bound, K = 10" in capsys.readouterr().out


def test_evaluate_help_documents_every_json_key(trained, capsys):
    assert main(["evaluate", str(trained), "--iwae-k", "2", "--json"]) == 0
    keys = set(json.loads(capsys.readouterr().out))
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for key in keys:
        assert key in text, key


def test_compare_table_json_and_plot(trained, tmp_path, capsys):
    plot = tmp_path / "compare.png"
    args = ["compare", str(trained), "--max-examples", "20", "--repeats", "2", "--draws", "3"]
    assert main([*args, "--json", "--plot", str(plot)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert plot.stat().st_size > 10_000
    rows = {(r["family"], r["k"]): r for r in result["estimators"]}
    assert sorted(rows) == sorted(
        [("elbo-mc", k) for k in (1, 10, 100)] + [("elbo-analytic", k) for k in (1, 10, 100)]
        + [("importance", k) for k in (1, 10, 100, 1000, 5000)] + [("naive", 1000)]
    )
    for row in rows.values():
        assert row["available"] and row["std"] >= 0 and row["stderr"] > 0
        assert row["seconds"] >= 0 and math.isfinite(row["mean"])
    # the same seed draws the same z: L_1 is the one-particle Monte Carlo ELBO
    assert rows["importance", 1]["mean"] == pytest.approx(rows["elbo-mc", 1]["mean"], rel=1e-5)
    grads = {(r["objective"], r["particles"], r["group"]) for r in result["gradient_noise"]}
    assert grads == {(o, p, g) for o in ("trace", "meanfield") for p in (1, 10, 100)
                     for g in ("encoder", "decoder")}
    assert result["num_examples"] == 20 and result["gradient_batch"] == 20

    assert main(args) == 0
    text = capsys.readouterr().out
    assert "importance-sampled bound" in text and "gradient noise" in text


@pytest.mark.parametrize("argv,message", [
    (["evaluate", "{run}", "--iwae-k", "0"], "--iwae-k must be a positive integer"),
    (["compare", "{run}", "--plot", "{tmp}/table.txt"], "must be a .png file"),
    (["compare", "{run}", "--plot", "{tmp}/missing/x.png"], "does not exist"),
    (["compare", "{run}", "--repeats", "0"], "--repeats must be a positive integer"),
    (["compare", "{run}", "--draws", "1"], "--draws must be at least 2"),
    (["compare", "{run}", "--max-examples", "-1"], "--max-examples must be 0"),
    (["compare", "{tmp}/nothing"], "does not exist"),
])
def test_bad_input_exits_2_with_one_line(trained, tmp_path, capsys, argv, message):
    argv = [a.format(run=trained, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err



@pytest.fixture(scope="module")
def trained_m2(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare-m2") / "run"
    assert main(["train", "--out", str(out), "--model", "m2", "--labels", "50", *TINY,
                 "--set", "model.classifier.hidden=[16]"]) == 0
    return out


def test_an_m2_run_answers_evaluate_iwae_k_and_compare(trained_m2, capsys):
    """M2 through the same estimators: finite numbers, the bound above the ELBO (y summed out
    in both), the classifier's accuracy, and compare's meanfield rows marked n/a."""
    assert main(["evaluate", str(trained_m2), "--iwae-k", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("elbo", "log_likelihood", "accuracy"):
        assert math.isfinite(result[key]), key
    assert result["log_likelihood"] > result["elbo"]
    assert main(["compare", str(trained_m2), "--max-examples", "40", "--repeats", "2",
                 "--draws", "2", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    rows = {(r["family"], r["k"]): r for r in table["estimators"]}
    assert all(math.isfinite(r["mean"]) for r in rows.values())
    # L_5000 ≥ the ELBO in expectation; this tiny model's gap is under 0.1 nat, so compare with
    # the 100-particle ELBO and allow its Monte Carlo noise (std over repeats) three times. A
    # wrong sum over y (a missing log p(y) = −log 10) would miss by nats.
    elbo = rows[("elbo-analytic", 100)]
    assert rows[("importance", 5000)]["mean"] > elbo["mean"] - 3 * elbo["std"] - 0.01
    noise = table["gradient_noise"]
    assert {r["objective"] for r in noise if r["available"]} == {"trace"}
    assert any(r["group"] == "classifier" for r in noise)
    # the classifier's accuracy on the same 40 test images as `evaluate` counts them
    _, m2, _, _ = open_run(trained_m2)
    test = pv.load_dataset("digits").test
    hits = (m2.classify(test.x[:40]) == test.y[:40]).double()
    assert table["accuracy"] == pytest.approx(hits.mean().item(), abs=1e-12)
    assert main(["compare", str(trained_m2), "--max-examples", "40", "--repeats", "2",
                 "--draws", "2"]) == 0
    assert "classifier q(y|x): accuracy" in capsys.readouterr().out


def _as_if_on_a_terminal(monkeypatch):
    """The captured stderr claims to be a terminal: the default (no --quiet) shows the bars."""
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def test_evaluate_announces_the_bound_shows_a_bar_and_quiet_silences_both(trained, capsys,
                                                                          monkeypatch):
    """``evaluate --iwae-k`` first says, on stderr, how long the bound will take, then shows its
    bar there (on a terminal); ``--quiet`` neither; stdout is the JSON alone and every number
    is the same bit for bit."""
    args = ["evaluate", str(trained), "--iwae-k", "20", "--json"]
    assert main(args) == 0  # stderr is not a terminal: the announcement, no bar
    out, err = capsys.readouterr()
    plain = json.loads(out)
    assert err.startswith("importance-sampled bound on 359 examples with K = 20 samples each: ")
    assert err.count("\n") == 1 and "%" not in err
    _as_if_on_a_terminal(monkeypatch)
    assert main(args) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert err.count("importance-sampled bound on 359 examples") == 1
    assert "importance-sampled bound: 100%" in err and "359/359" in err
    assert main([*args, "--quiet"]) == 0
    out, err = capsys.readouterr()
    quiet = json.loads(out)
    assert err == ""
    for key in ("log_likelihood", "log_likelihood_stderr", "elbo", "elbo_stderr"):
        assert shown[key] == plain[key] == quiet[key], key
    assert main(["evaluate", str(trained), "--quiet"]) == 0  # the flag needs no --iwae-k
    assert capsys.readouterr().err == ""


def test_compare_shows_its_bar_on_stderr_and_quiet_hides_it(trained, capsys, monkeypatch):
    args = ["compare", str(trained), "--max-examples", "20", "--repeats", "1", "--draws", "2",
            "--json"]
    _as_if_on_a_terminal(monkeypatch)
    assert main(args) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)  # stdout: the JSON alone
    assert "compare: 100%" in err and "run 18/18" in err
    assert main([*args, "--quiet"]) == 0
    out, err = capsys.readouterr()
    quiet = json.loads(out)
    assert err == ""

    def numbers(result):
        return [{k: v for k, v in row.items() if k != "seconds"}
                for row in result["estimators"] + result["gradient_noise"]]

    assert numbers(shown) == numbers(quiet)


@pytest.mark.parametrize("repeats, draws, message", [
    (0, 20, r"repeats must be a whole number in \[1, 100\], got 0"),
    (101, 20, "more than 100 would run for days"),
    (3, 1, r"draws must be a whole number in \[2, 10000\], got 1"),
    (3, 10**9, "draws must be a whole number in .*; more than 10000 would run for days"),
    (3, 2.5, "got 2.5"),
    (True, 20, "got True"),
])
def test_compare_refuses_counts_it_cannot_use(repeats, draws, message):
    """Before any work, in Python terms (the CLI names its flags itself)."""
    from pyrovae.compare import check_counts
    from pyrovae.errors import ConfigError

    with pytest.raises(ConfigError, match=message) as error:
        check_counts(repeats, draws)
    assert "\n" not in str(error.value) and "--" not in str(error.value)
    check_counts(3, 20)
    check_counts(100, 10_000)
