"""Data-parallel training (pyrovae.distributed): 2 gloo ranks launched by torchrun, as a user
would, against one process on the same global batches with the same keyed noise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pyrovae.distributed import SINGLE, World
from pyrovae.models import MODELS

HERE = Path(__file__).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def torchrun(*args, ranks=2, check=True):
    """``torchrun --standalone --nproc_per_node=RANKS ARGS`` (a free local port)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={ranks}", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return done


def pyrovae_cli(*args):
    done = subprocess.run([sys.executable, "-m", "pyrovae", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


# -- shards ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,size", [(41, 2), (40, 2), (1, 2), (7, 3), (0, 2), (5, 1)])
def test_shards_are_disjoint_contiguous_and_cover_the_batch(n, size):
    bounds = [World(rank, size).bounds(n) for rank in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, disjoint
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_one_process_collectives_are_identities():
    x = torch.arange(6.0)
    SINGLE.all_sum_([x])
    assert torch.equal(x, torch.arange(6.0))
    assert SINGLE.gather(x, 6) is x and SINGLE.shard(x) is x


# -- two ranks equal one process -----------------------------------------------------------------

@pytest.mark.parametrize("kind,objective", [("vae", "trace"), ("vae", "meanfield"),
                                            ("vae", "iwae"), ("m2", "trace")])
def test_two_ranks_take_the_same_steps_as_one_process(tmp_path, kind, objective):
    """Same parameters to 1e-6 after 5 steps (uneven shards, then a rank with no example); the
    only difference allowed is float summation order in the all-reduce (about 1e-8 seen)."""
    script = HERE / "distributed_steps.py"
    subprocess.run([sys.executable, script, kind, objective, tmp_path / "one.pt"], check=True,
                   env=ENV, capture_output=True, timeout=300)
    torchrun(script, kind, objective, tmp_path / "two.pt")
    one, two = (torch.load(tmp_path / f"{n}.pt") for n in ("one", "two"))
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=0, atol=1e-6, msg=key)


@pytest.mark.parametrize("kind", ["vae", "adgm"])
def test_two_ranks_evaluate_as_one_process_with_any_batch_size(tmp_path, kind):
    """The evaluation's draws are indexed by example (pyrovae.noise.IndexedNoise): the ELBO,
    its terms, the accuracy and the importance-sampled bound on 2 ranks (uneven shards) are
    those of one process, and of one process with other batches, to float rounding."""
    script = HERE / "distributed_steps.py"
    for name, batch in (("one", 1000), ("small", 13)):
        subprocess.run([sys.executable, script, "evaluate", kind, tmp_path / f"{name}.pt",
                        str(batch)], check=True, env=ENV, capture_output=True, timeout=300)
    torchrun(script, "evaluate", kind, tmp_path / "two.pt", 1000)
    one, two, small = (torch.load(tmp_path / f"{n}.pt") for n in ("one", "two", "small"))
    assert one.keys() == two.keys() == small.keys()
    assert {"elbo", "kl", "log_likelihood"} <= one.keys()
    assert ("accuracy" in one) == (kind == "adgm")
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-5), key
        assert small[key] == pytest.approx(one[key], rel=1e-5, abs=1e-5), key


def test_sharded_draws_differ_with_the_global_generator():
    """Guard for the test above: from torch's global generator the second half of a batch gets
    other noise than it gets in the whole batch; keyed noise gives it the same."""
    import pyro

    import pyrovae as pv
    from pyrovae.noise import KeyedNoise

    data = pv.load_dataset("digits", binarize="dynamic")
    x = data.train.x[:40]
    vae = pv.VAE.build(data.event_shape, z_dim=4)
    trace = pyro.poutine.trace(vae.guide).get_trace
    pyro.set_rng_seed(0)
    whole = trace(x).nodes["z"]["value"]
    pyro.set_rng_seed(0)  # rank 1, seeded alike, draws for its rows what rank 0 draws for its
    second_rank = trace(x[20:]).nodes["z"]["value"]
    assert (whole[20:] - second_rank).abs().max() > 0.1
    with KeyedNoise(0, 0, 0, 40):
        keyed_whole = trace(x).nodes["z"]["value"]
    with KeyedNoise(0, 0, 0, 40):
        first = trace(x[:20]).nodes["z"]["value"]
    with KeyedNoise(0, 0, 20, 40):
        second = trace(x[20:]).nodes["z"]["value"]
    torch.testing.assert_close(torch.cat([first, second]), keyed_whole, rtol=0, atol=0)


# -- the command line under torchrun -------------------------------------------------------------

def test_torchrun_train_resume_and_evaluate(tmp_path):
    """2 ranks: one run directory (written by rank 0 alone), the same training losses as one
    process, a resume that continues it, and a sharded --iwae-k over the whole split."""
    two, one = tmp_path / "two", tmp_path / "one"
    common = ["--set", "train.batch_size=64", "--set", "model.z_dim=4"]
    done = torchrun("-m", "pyrovae", "train", "--epochs", 2, "--out", two, *common)
    assert done.stdout.count("trained for") == 1  # rank 0 reports, rank 1 is silent
    assert "on 2 ranks" in done.stdout
    # no staging folder left (the empty lock file stays: filelock keeps it)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".two.lock", "two"]
    for name in ("config.toml", "metrics.csv", "checkpoint.pt", "best.pt", "results.json",
                 "samples.png"):
        assert (two / name).is_file(), name
    torchrun("-m", "pyrovae", "train", "--resume", two, "--epochs", 3, "--quiet")
    pyrovae_cli("train", "--epochs", 3, "--out", one, "--quiet", *common)

    def losses(run, column="train_loss"):
        lines = (run / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        return [float(line.split(",")[header.index(column)]) for line in lines[1:]]

    assert len(losses(two)) == 3
    # the same steps as one process; float sums in another order, ~1e-7 relative seen
    assert losses(two) == pytest.approx(losses(one), rel=1e-5)
    # and the same validation: its draws are indexed by example, not cut by the ranks
    assert losses(two, "valid_elbo") == pytest.approx(losses(one, "valid_elbo"), rel=1e-5)
    done = torchrun("-m", "pyrovae", "evaluate", two, "--split", "test", "--iwae-k", 20, "--json")
    result = json.loads(done.stdout)
    assert result["ranks"] == 2 and result["num_examples"] == 359  # the whole test split
    single = json.loads(pyrovae_cli("evaluate", two, "--split", "test", "--iwae-k", 20,
                                    "--json").stdout)
    for key in ("elbo", "reconstruction", "kl", "log_likelihood"):  # the same, to rounding
        assert result[key] == pytest.approx(single[key], rel=1e-5), key
    assert result["log_likelihood"] >= result["elbo"] - 0.2


def test_an_error_under_torchrun_is_one_line_per_rank_and_writes_nothing(tmp_path):
    done = torchrun("-m", "pyrovae", "train", "--out", tmp_path / "run", "--set",
                    "model.kind=nope", check=False)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("pyrovae: error")]
    # each rank that gets to report prints one line (rank 0 without a rank label); the first to
    # exit makes torchrun stop the other, which on a busy machine may not have printed yet
    assert 1 <= len(errors) <= 2, done.stderr
    for line in errors:
        assert line.split(": ", 2)[1] in ("error", "error (rank 1 of 2)"), line
        shipped = ", ".join(n for n in MODELS.names() if ":" not in n)  # not a test's own model
        assert f"unknown model 'nope'; choose one of: {shipped}; " in line, \
            line
    assert not (tmp_path / "run").exists()
