"""The ``pyrovae`` command end to end on tiny settings, and its handling of bad input."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pyrovae.cli import main

TINY = [
    "--epochs", "2", "--z-dim", "2", "--batch-size", "64", "--quiet",
    "--set", "model.encoder.hidden=[16]", "--set", "model.decoder.hidden=[16]",
]  # fmt: skip


def train(tmp_path, *extra, name="run"):
    out = tmp_path / name
    assert main(["train", "--out", str(out), *TINY, *extra]) == 0
    return out


def read_metrics(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("cli"))


def test_train_writes_a_complete_run_directory(trained):
    for name in ("config.toml", "metrics.csv", "checkpoint.pt", "samples.png",
                 "reconstructions.png"):
        assert (trained / name).stat().st_size > 0, name
    rows = read_metrics(trained)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for row in rows:
        assert np.isfinite(float(row["train_loss"]))
        assert float(row["valid_elbo"]) < 0
        # the terms add up: ELBO = reconstruction − KL
        rec, kl = float(row["valid_reconstruction"]), float(row["valid_kl"])
        assert float(row["valid_elbo"]) == pytest.approx(rec - kl, rel=1e-6)
    state = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and state["event_shape"] == [1, 8, 8]


def test_evaluate_json_and_text(trained, capsys):
    assert main(["evaluate", str(trained), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["num_examples"] == 359
    assert result["kl_method"] == "analytic"
    assert result["elbo"] == pytest.approx(result["reconstruction"] - result["kl"], rel=1e-6)
    assert result["kl"] > 0 and result["elbo_stderr"] > 0
    assert main(["evaluate", str(trained), "--split", "valid"]) == 0
    text = capsys.readouterr().out
    assert "valid split, 180 examples" in text and "elbo" in text


def test_evaluate_is_reproducible_with_a_seed(trained, capsys):
    main(["evaluate", str(trained), "--json", "--seed", "3"])
    first = json.loads(capsys.readouterr().out)
    main(["evaluate", str(trained), "--json", "--seed", "3"])
    assert json.loads(capsys.readouterr().out) == first


def test_sample_writes_png(trained, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", str(trained), "-n", "9", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_does_not_import_torch_or_plugins():
    """Start-up: ``--help`` and ``train --help`` answer without importing torch, Pyro, NumPy
    or any plugin (0.03 s here, against about 2 s with them); ``list`` reads the live
    registries, so it imports them."""
    code = ("import sys\nfrom pyrovae.cli import main\n"
            "for argv in (['--help'], ['train', '--help'], ['evaluate', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted({'torch', 'pyro', 'numpy', 'importlib.metadata'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines()[-1] == "[]"
    assert "--import MODULE" in done.stdout and "path/to/file.py:ClassName" in done.stdout


def test_list_json_covers_every_registry(capsys):
    assert main(["list", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert {"priors", "likelihoods", "guides", "encoders", "decoders", "objectives",
            "datasets", "optimizers", "models"} <= set(table)
    assert "normal" in table["priors"] and table["priors"]["normal"]
    assert {"trace", "meanfield"} <= set(table["objectives"])
    assert all(description for entries in table.values() for description in entries.values())


def test_same_seed_same_numbers(tmp_path):
    a = read_metrics(train(tmp_path, "--seed", "7", name="a"))
    b = read_metrics(train(tmp_path, "--seed", "7", name="b"))
    c = read_metrics(train(tmp_path, "--seed", "8", name="c"))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rows]
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


# -- bad input: the catalogue is tests/test_cli_errors.py; here the process-level checks -------


def save(tmp_path, array, name="data.npy"):
    path = tmp_path / name
    np.save(path, array)
    return str(path)


def test_grey_levels_with_bernoulli_warn_once_in_one_line(tmp_path, capsys):
    images = np.random.default_rng(0).random((60, 4, 4)).astype(np.float32)
    assert main(["train", "--out", str(tmp_path / "r"), "--dataset",
                 save(tmp_path, images), *TINY, "--set", "data.binarize=none"]) == 0
    err = capsys.readouterr().err
    assert "pyrovae: warning:" in err and "not a normalized density" in err


def test_console_script_exit_code_and_single_line():
    """Through a real process: exit status 2 and one line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "pyrovae.cli", "train", "--prior", "nope", "--quiet"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown prior 'nope'" in proc.stderr


def test_output_cut_short_by_a_pipe_is_not_an_error():
    """`pyrovae list | head -1`: no traceback when the reader closes the pipe. Here the reader
    closes it before the command writes anything, so the write always fails."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyrovae.cli", "list"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_cvae_trains_evaluates_and_samples_a_chosen_class(tmp_path, capsys):
    """``--model cvae``: the run has its one-row-per-class figure; ``evaluate`` and its
    ``--iwae-k`` bound are of log p(x|y) (the bound above the ELBO); ``sample --class``."""
    run = train(tmp_path, "--model", "cvae", "--set", "model.features=16")
    assert (run / "class_samples.png").stat().st_size > 0
    files = json.loads((run / "results.json").read_text())["files"]  # what train prints
    assert files[-3:] == ["samples.png", "reconstructions.png", "class_samples.png"]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iwae-k", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_examples"] == 359 and result["kl_method"] == "analytic"
    assert result["elbo"] < result["log_likelihood"] < 0
    assert main(["sample", str(run), "-n", "8", "--class", "3"]) == 0
    assert "of class 3" in capsys.readouterr().out
    assert (run / "samples-8-class3.png").stat().st_size > 0
    assert main(["sample", str(run), "--class", "10"]) == 2
    assert "give one of 0..9" in capsys.readouterr().err


def test_sample_class_needs_a_label_aware_model(trained, capsys):
    assert main(["sample", str(trained), "--class", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cvae, m2" in err and "drop --class" in err


def test_cvae_refuses_a_few_labels(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), *TINY, "--model", "cvae",
                 "--labels", "50"]) == 2
    assert "every example" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_version_prints_the_package_version_without_torch():
    from pyrovae._version import __version__

    code = ("import sys\nfrom pyrovae.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit as e:\n"
            "    print('exit', e.code)\n"
            "print(sorted({'torch', 'pyro', 'numpy'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.splitlines() == [f"pyrovae {__version__}", "exit 0", "[]"]


def _built_in(registry):
    """The names pyrovae itself registers (not a test's, a plugin's or a user's kind)."""
    return {name for name in registry.names() if ":" not in name
            and getattr(registry.get(name), "__module__", "").startswith("pyrovae.")}


def test_train_help_lists_every_built_in_model_kind_and_objective(capsys, monkeypatch):
    """``train --help`` cannot read the registries (it imports no torch): its lists are
    constants, checked here against the live registries so that they cannot drift."""
    from pyrovae import cli
    from pyrovae.registries import MODELS, OBJECTIVES

    assert set(cli.OBJECTIVE_NAMES) == _built_in(OBJECTIVES)
    assert set(cli.MODEL_KINDS) == _built_in(MODELS)
    kinds = {name: MODELS.get(name) for name in cli.MODEL_KINDS}
    assert set(cli.FEW_LABEL_KINDS) == {
        name for name, cls in kinds.items() if cls.uses_labels and not cls.needs_every_label}
    assert set(cli.CLASS_KINDS) == {name for name, cls in kinds.items() if cls.uses_labels}
    assert len(set(cli.OBJECTIVE_NAMES)) == len(cli.OBJECTIVE_NAMES)
    assert len(set(cli.MODEL_KINDS)) == len(cli.MODEL_KINDS)
    monkeypatch.setenv("COLUMNS", "400")  # no line breaks inside a name (cvae-quadrants)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(cli.MODEL_KINDS) in text and ", ".join(cli.OBJECTIVE_NAMES) in text


# -- text that survives any locale (issue 22) ---------------------------------------------------


def _ascii_run(*argv):
    """``python -m pyrovae.cli ARGV`` with ``PYTHONIOENCODING=ascii`` (an ASCII terminal); the
    output as bytes, so that nothing is decoded for us."""
    import os

    env = {**os.environ, "PYTHONIOENCODING": "ascii", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "pyrovae.cli", *argv], capture_output=True,
                          env=env)


def _is_ascii(data):
    return all(byte < 128 for byte in data)


def test_list_and_help_in_an_ascii_terminal():
    """``pyrovae list`` describes components with σ, μ, ×, ≥ ...: an ASCII terminal gets their
    ASCII equivalents, exit 0, no traceback."""
    done = _ascii_run("list")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert _is_ascii(done.stdout) and b"Traceback" not in done.stderr
    assert b"priors:" in done.stdout and b"mu(x)" in done.stdout  # "μ(x)" in UTF-8
    done = _ascii_run("train", "--help")
    assert done.returncode == 0 and done.stdout.startswith(b"usage: pyrovae train")
    assert _is_ascii(done.stdout)


def test_evaluate_in_an_ascii_terminal(trained):
    """The ± of the table becomes +/-."""
    done = _ascii_run("evaluate", str(trained))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert _is_ascii(done.stdout) and b"Traceback" not in done.stderr
    assert b"  +/- " in done.stdout and b"; +/- is one standard error" in done.stdout


def test_an_error_naming_a_path_that_is_not_utf8_in_an_ascii_terminal(tmp_path):
    """A name of bytes that are not UTF-8 is refused in one line, shown as \\xff, and nothing
    is written."""
    import os

    out = os.fsencode(str(tmp_path)) + b"/run\xff"
    done = subprocess.run([os.fsencode(sys.executable), b"-m", b"pyrovae.cli", b"train",
                           b"--out", out, b"--quiet"], capture_output=True,
                          env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert done.returncode == 2
    assert done.stderr.count(b"\n") == 1 and b"run\\xff: the name is not valid UTF-8" in done.stderr
    assert os.listdir(tmp_path) == []


def test_the_ascii_error_handler():
    """Every character of the table, a byte of a non-UTF-8 name, anything else escaped."""
    import codecs

    from pyrovae.cli import ASCII, ASCII_ERRORS

    assert codecs.lookup_error(ASCII_ERRORS)
    text = "± ≥ ≤ — – × σ μ … ’ “x” β \udcff \u4e2d"
    assert text.encode("ascii", ASCII_ERRORS) == (
        b"+/- >= <= -- - x sigma mu ... ' \"x\" beta \\xff \\u4e2d")
    assert all(value.isascii() for value in ASCII.values())


def test_main_puts_the_streams_back(monkeypatch):
    """In-process callers get their stdout back as it was: only for the command's duration
    does it write ASCII equivalents."""
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["list", "guides"]) == 0
    stream.flush()
    assert stream.errors == "strict"
    assert _is_ascii(raw.getvalue()) and b"guides:" in raw.getvalue()
