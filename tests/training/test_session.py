"""The session that trains a run from its config: the Python API writes what the command line
writes, runs read back on any machine, and a run killed after its last epoch finishes its
reports on resume."""

import json
import os

import pyro
import pytest
import torch

import pyrovae as pv
import pyrovae.training.reports as reports
from pyrovae.cli import main
from pyrovae.runfiles import read_metrics, read_results

#: a small run with a final bound, a few seconds on the digits
OVERRIDES = ["train.epochs=2", "model.z_dim=2", "model.encoder.hidden=[16]",
             "model.decoder.hidden=[16]", "train.final_iwae_k=4", "output.tensorboard=false"]


def cli_train(out, *extra):
    args = ["train", "--out", str(out), "--quiet", *extra]
    for override in OVERRIDES:
        args += ["--set", override]
    return main(args)


def without_times(value):
    """``value`` without wall times (they differ between any two runs)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items()
                if "seconds" not in k}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


@pytest.fixture
def threads():
    """Put torch's thread count back after a test that changes it."""
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_fit_writes_the_run_the_command_line_writes(tmp_path, capsys):
    run = pv.fit(pv.load_config(overrides=OVERRIDES), tmp_path / "py")
    printed = capsys.readouterr().out
    assert "latent z: KL estimated by Monte Carlo" in printed  # the KL report
    assert "training a vae on digits (1258 train, 180 valid, 359 test) for 2 epochs" in printed
    assert cli_train(tmp_path / "cli") == 0
    py, cli = tmp_path / "py", tmp_path / "cli"
    assert sorted(p.name for p in py.iterdir()) == sorted(p.name for p in cli.iterdir())
    assert without_times(read_metrics(py)) == without_times(read_metrics(cli))
    assert without_times(read_results(py)) == without_times(read_results(cli))
    assert read_results(py)["test"]["log_likelihood"] < 0  # the bound is there
    for a, b in zip(run.model.state_dict().values(),
                    pv.load_run(cli).model.state_dict().values()):
        assert torch.equal(a.cpu(), b)
    # config.toml differs only in the run directory
    py_text = (py / "config.toml").read_text().replace(str(py), "DIR")
    assert py_text == (cli / "config.toml").read_text().replace(str(cli), "DIR")


def test_load_run_reads_back_the_model_config_data_and_files(tmp_path):
    fitted = pv.fit(pv.load_config(overrides=OVERRIDES), tmp_path / "r", quiet=True)
    run = pv.load_run(tmp_path / "r")
    assert run.epoch == fitted.epoch == read_results(tmp_path / "r")["best_epoch"]
    assert run.config.model.z_dim == 2 and not run.model.training
    assert run.results == read_results(tmp_path / "r")
    assert [row["epoch"] for row in run.metrics] == [1, 2]
    assert len(run.data.test) == 359
    pyro.set_rng_seed(0)
    a = run.model.evaluate(run.data.test.x)["elbo"]
    pyro.set_rng_seed(0)
    b = fitted.model.evaluate(fitted.data.test.x)["elbo"]
    assert a == b
    last = pv.load_run(tmp_path / "r", checkpoint="last", data=False)
    assert last.data is None and last.epoch == 2
    with pytest.raises(ValueError, match=r"'best'(,| or) 'last'"):
        pv.load_run(tmp_path / "r", checkpoint="newest")


def test_fit_does_not_change_the_config_it_is_given(tmp_path):
    config = pv.load_config(overrides=OVERRIDES)
    before = pv.config.config_to_dict(config)
    pv.fit(config, tmp_path / "r", quiet=True)
    assert pv.config.config_to_dict(config) == before


@pytest.mark.parametrize("where", ["bound", "figures", "results"])
def test_a_run_killed_after_its_last_epoch_finishes_its_reports_on_resume(
        tmp_path, monkeypatch, capsys, where):
    whole = pv.fit(pv.load_config(overrides=OVERRIDES), tmp_path / "whole", quiet=True).results
    target = {"bound": "evaluate_log_likelihood", "figures": "write_figures",
              "results": "write_results"}[where]
    module = reports if where != "figures" else pv.training.run_writers

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as a kill would: nothing after this point happens

    monkeypatch.setattr(module, target, killed)
    run_dir = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        pv.fit(pv.load_config(overrides=OVERRIDES), run_dir, quiet=True)
    monkeypatch.undo()
    assert read_results(run_dir) is None  # not finished: its reports are missing
    assert (run_dir / "checkpoint.pt").exists()
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert "finishing the reports of" in capsys.readouterr().out
    assert without_times(read_results(run_dir)) == without_times(whole)
    assert (run_dir / "samples.png").exists()
    assert main(["train", "--resume", str(run_dir)]) == 2  # now it is finished
    assert "it is finished" in capsys.readouterr().err


def test_a_run_with_more_threads_than_cores_trains_reads_and_resumes_here(
        tmp_path, capsys, threads):
    many = (os.cpu_count() or 1) * 32
    run_dir = tmp_path / "r"
    assert cli_train(run_dir, "--set", f"train.num_threads={many}") == 0
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == 2
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "c.png")]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "3", "--device", "cpu",
                 "--set", "train.num_threads=1"]) == 0
    printed = capsys.readouterr().out
    assert "continuing with train.num_threads = 1: the numbers can differ" in printed
    assert pv.load_run(run_dir, data=False).config.train.num_threads == 1
    assert [row["epoch"] for row in read_metrics(run_dir)] == [1, 2, 3]


def test_more_threads_than_cores_is_cut_to_the_cores_with_a_line(tmp_path, capsys, threads):
    many = (os.cpu_count() or 1) * 32
    pv.fit(pv.load_config(overrides=[*OVERRIDES, "train.final_iwae_k=0",
                                     f"train.num_threads={many}"]), tmp_path / "r")
    assert (f"train.num_threads = {many}, but this machine has {os.cpu_count()} cores: using "
            f"{os.cpu_count()}") in capsys.readouterr().out
    assert torch.get_num_threads() == os.cpu_count()


def test_resume_refuses_a_setting_that_changes_the_run(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert cli_train(run_dir, "--set", "train.final_iwae_k=0") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "3", "--set",
                 "train.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "drop --set train.lr=0.1" in err and "--device" in err
