"""A model of the user's own, end to end (issue 18): ``tests/user_models/two_layer.py``, a
two-stochastic-layer VAE that no file of pyrovae defines, trains from the command line, resumes
bit for bit, and answers ``evaluate --iwae-k``, ``compare`` and ``sample`` with the numbers its
own hand-written formula gives; bad model files are refused in one line with nothing written.

The hand-written formula (float64, torch only, no Pyro)::

    log w = log N(z2; 0, I) + log N(z1; m(z2), s(z2)²) + log N(x; d(z1), scale²)
            − log N(z1; μ1(x), σ1(x)²) − log N(z2; μ2(z1), σ2(z1)²),
    z1 ~ q(z1|x), z2 ~ q(z2|z1);   ELBO = E[log w],   L_K = log (1/K) Σ_k w_k,
    naive = log (1/K) Σ_k N(x; d(z1_k), scale²) with z2_k ~ N(0, I), z1_k ~ p(z1|z2_k).

Monte Carlo estimates are compared within 4 standard deviations of their difference, computed
from the per-example variance of the hand-written draws (stated at each comparison).
"""

import copy
import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pyrovae.cli import main
from pyrovae.runs import open_run
from pyrovae.run_data import load_data

HERE = Path(__file__).resolve().parent
FILE = HERE / "user_models" / "two_layer.py"
SPEC = f"{FILE}:TwoLayer"
TINY = ["--quiet", "--batch-size", "128", "--set", "model.hidden=8",
        "--set", "train.num_threads=1"]


def train(out, *extra, spec=SPEC, epochs=2):
    assert main(["train", "--model", spec, "--epochs", str(epochs), "--out", str(out), *TINY,
                 *extra]) == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run trained for 2 epochs straight, and one stopped after 1 and resumed to 2."""
    root = tmp_path_factory.mktemp("user")
    straight = train(root / "straight")
    stopped = train(root / "stopped", epochs=1)
    assert main(["train", "--resume", str(stopped), "--epochs", "2", "--quiet"]) == 0
    return straight, stopped


def metrics(run):
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "epoch_seconds"}
                for row in csv.DictReader(f)]


def test_it_trains_and_resumes_bit_for_bit(runs):
    straight, stopped = runs
    assert metrics(straight) == metrics(stopped) and len(metrics(straight)) == 2
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(stopped / "checkpoint.pt", weights_only=True)
    assert set(a["state_dict"]) == set(b["state_dict"]) and "inner.encode1.0.weight" in a[
        "state_dict"]
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    for key, state in a["training"]["trainer"]["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(value, b["training"]["trainer"]["optimizer"]["state"][key][name])
    text = (straight / "config.toml").read_text()
    assert f'kind = "{SPEC}"' in text and "[plugins.sha256]" in text  # the spec, the file


# -- the hand-written formula -------------------------------------------------------------------


def gauss(params):
    loc, raw = params.chunk(2, -1)
    return loc, F.softplus(raw) + 1e-3


def log_normal(v, loc, scale):
    """Σ_j log N(v_j; loc_j, scale_j²), written out."""
    scale = torch.as_tensor(scale, dtype=v.dtype)
    return (-0.5 * ((v - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


class Hand:
    """The trained networks in float64 and the densities by hand."""

    def __init__(self, run, examples=None):
        config, model, _, _ = open_run(run)
        self.net = copy.deepcopy(model.inner).double()
        self.x = load_data(config).test.x.double()[:examples].flatten(1)
        self.g = torch.Generator().manual_seed(1234)

    def noise(self, *shape):
        return torch.randn(*shape, generator=self.g, dtype=torch.float64)

    @torch.no_grad()
    def draws(self, k):
        """``(log w, log p(x|z1), KL terms of z1 and z2)``, each ``(k, N)``; z2's KL in closed
        form given z1, ½ Σ (μ² + σ² − 1 − log σ²)."""
        net = self.net
        m1, s1 = gauss(net.encode1(self.x))
        z1 = m1 + s1 * self.noise(k, *m1.shape)
        m2, s2 = gauss(net.encode2(z1))
        z2 = m2 + s2 * self.noise(*m2.shape)
        pm, ps = gauss(net.decode2(z2))
        log_px = log_normal(self.x, net.decode1(z1), net.scale)
        log_w = (log_normal(z2, 0.0, 1.0) + log_normal(z1, pm, ps) + log_px
                 - log_normal(z1, m1, s1) - log_normal(z2, m2, s2))
        kl_z1 = log_normal(z1, m1, s1) - log_normal(z1, pm, ps)
        kl_z2 = 0.5 * (m2**2 + s2**2 - 1 - torch.log(s2**2)).sum(-1)
        return log_w, log_px, kl_z1, kl_z2

    @torch.no_grad()
    def naive(self, k):
        net, n = self.net, self.x.shape[0]
        z2 = self.noise(k, n, net.z2)
        pm, ps = gauss(net.decode2(z2))
        z1 = pm + ps * self.noise(*pm.shape)
        return log_normal(self.x, net.decode1(z1), net.scale).logsumexp(0) - math.log(k)

    def bound(self, k):
        return self.draws(k)[0].logsumexp(0) - math.log(k)


def within(cli, hand_value, variance, n, draws_cli, draws_hand, what):
    """|cli − hand| ≤ 4 sd of their difference, from the per-example variance of one draw."""
    tol = 4 * math.sqrt(variance / n * (1 / draws_cli + 1 / draws_hand))
    assert abs(cli - hand_value) <= tol, (what, cli, hand_value, tol)


def test_evaluate_iwae_k_is_the_hand_written_elbo_and_bound(runs, capsys):
    run = runs[0]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--samples", "20", "--iwae-k", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    hand = Hand(run)
    n = hand.x.shape[0]
    log_w, log_px, kl_z1, kl_z2 = hand.draws(400)
    within(result["elbo"], log_w.mean().item(), log_w.var(0).mean().item(), n, 20, 400, "elbo")
    within(result["reconstruction"], log_px.mean().item(), log_px.var(0).mean().item(), n, 20,
           400, "reconstruction")
    sites = result["kl_sites"]
    assert (sites["z1"]["method"], sites["z2"]["method"]) == ("monte-carlo", "analytic")
    within(sites["z1"]["kl"], kl_z1.mean().item(), kl_z1.var(0).mean().item(), n, 20, 400, "z1")
    within(sites["z2"]["kl"], kl_z2.mean().item(), kl_z2.var(0).mean().item(), n, 20, 400, "z2")
    bounds = torch.stack([hand.bound(50) for _ in range(4)])  # L_50 four times per example
    within(result["log_likelihood"], bounds.mean().item(), bounds.var(0).mean().item(), n, 1, 4,
           "L_50")
    assert result["elbo"] < result["log_likelihood"]


def test_compare_gives_the_hand_written_estimates(runs, capsys):
    run, n = runs[0], 40
    capsys.readouterr()
    assert main(["compare", str(run), "--json", "--max-examples", str(n), "--repeats", "2",
                 "--draws", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {(r["family"], r["k"]): r for r in result["estimators"]}
    assert not rows[("elbo-analytic", 1)]["available"]  # z1's KL has no valid closed form
    hand = Hand(run, examples=n)
    log_w = hand.draws(2000)[0]
    within(rows[("elbo-mc", 100)]["mean"], log_w.mean().item(), log_w.var(0).mean().item(), n,
           200, 2000, "elbo-mc, 100 particles, 2 repeats")
    for k in (10, 1000):
        bounds = torch.stack([hand.bound(k) for _ in range(4)])
        within(rows[("importance", k)]["mean"], bounds.mean().item(),
               bounds.var(0).mean().item(), n, 2, 4, f"L_{k}")
    naive = torch.stack([hand.naive(1000) for _ in range(4)])
    within(rows[("naive", 1000)]["mean"], naive.mean().item(), naive.var(0).mean().item(), n, 2,
           4, "naive")
    assert {r["group"] for r in result["gradient_noise"]}  # a report for its parameters


def test_sample_is_its_own_prior_path(runs, tmp_path, capsys):
    """``sample`` draws z2 ~ N(0, I), z1 ~ p(z1|z2) and shows E[x|z1] = d(z1): the same grid
    as the hand-written draws with the same seed (the model's sampling order)."""
    import matplotlib.pyplot as plt

    from pyrovae.plots import as_images, save_grid

    run, n = runs[0], 9
    out = tmp_path / "cli.png"
    assert main(["sample", str(run), "-n", str(n), "--seed", "3", "-o", str(out)]) == 0
    _, model, _, _ = open_run(run)
    net = model.inner
    torch.manual_seed(3)
    with torch.no_grad():
        z2 = torch.empty(n, net.z2).normal_()
        pm, ps = gauss(net.decode2(z2))
        z1 = pm + torch.empty(pm.shape).normal_() * ps
        images = as_images(net.decode1(z1), net.event_shape)
    save_grid(images, tmp_path / "hand.png", nrow=3)
    cli, by_hand = plt.imread(out), plt.imread(tmp_path / "hand.png")
    assert cli.shape == by_hand.shape
    assert abs(cli - by_hand).max() <= 1.5 / 255


def test_plot_and_the_files_it_wrote(runs, tmp_path, capsys):
    run = runs[0]
    assert main(["plot", str(run), str(runs[1]), "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 0
    files = json.loads((run / "results.json").read_text())["files"]
    assert files == ["config.toml", "metrics.csv", "checkpoint.pt", "best.pt", "results.json",
                     "samples.png", "reconstructions.png"]


def test_its_own_figures_are_written_and_printed(tmp_path, capsys):
    """A kind's figures return the paths they wrote, and ``train`` prints those."""
    out = tmp_path / "r"
    assert main(["train", "--model", f"{FILE}:TwoLayerFigures", "--epochs", "1", "--out",
                 str(out), "--set", "model.hidden=8"]) == 0
    printed = capsys.readouterr().out
    assert f"{out / 'codes.png'}" in printed and (out / "codes.png").stat().st_size > 0
    assert "codes.png" in json.loads((out / "results.json").read_text())["files"]


def test_a_latent_variable_model_subclass_and_a_module_spec(tmp_path, capsys, monkeypatch):
    """The other two ways to name a model: a LatentVariableModel subclass (its own ``build``
    gives the options) and ``package.module:ClassName``."""
    run = train(tmp_path / "kind", spec=f"{FILE}:TwoLayerKind", epochs=1)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iwae-k", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["log_likelihood"] < 0
    monkeypatch.syspath_prepend(str(HERE))
    run = train(tmp_path / "module", spec="user_models.two_layer:TwoLayer", epochs=1)
    assert 'kind = "user_models.two_layer:TwoLayer"' in (run / "config.toml").read_text()
    assert main(["sample", str(run), "-n", "4"]) == 0


PYRO_MODULE = """
import math

import pyro
import pyro.distributions as dist
from pyro.nn import PyroModule
from torch import nn


class Mine(PyroModule):
    def __init__(self, event_shape, z=2):
        super().__init__()
        self.event_shape, self.z = tuple(event_shape), z
        self.enc = PyroModule[nn.Linear](math.prod(event_shape), 2 * z)
        self.dec = PyroModule[nn.Linear](z, math.prod(event_shape))

    def model(self, x, y=None, kl_weight=1.0):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.z), 1.0).to_event(1))
            mean = self.dec(z).reshape(*z.shape[:-1], *self.event_shape)
            pyro.sample("x", dist.Normal(mean, 0.3).to_event(3), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        with pyro.plate("data", x.shape[0]):
            loc, raw = self.enc(x.flatten(1)).chunk(2, -1)
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-3).to_event(1))
"""


def test_a_pyro_module_trains(tmp_path):
    """A ``PyroModule`` (its parameters reached through Pyro's module context) trains like
    any module; the run directory is named after the class."""
    from pyrovae.config import load_config
    from pyrovae.training import default_run_dir

    path = tmp_path / "pm.py"
    path.write_text(PYRO_MODULE)
    run = tmp_path / "run"
    assert main(["train", "--model", f"{path}:Mine", "--epochs", "3", "--out", str(run),
                 "--quiet"]) == 0
    losses = [float(row["train_loss"]) for row in metrics(run)]
    assert losses[2] < losses[0]
    assert set(torch.load(run / "checkpoint.pt", weights_only=True)["state_dict"]) == {
        "inner.enc.weight", "inner.enc.bias", "inner.dec.weight", "inner.dec.bias"}
    assert "-Mine-" in default_run_dir(load_config(None, [f'model.kind="{path}:Mine"'])).name


def test_from_python(monkeypatch):
    """``as_model`` makes the module a kind for pyrovae's trainer and estimators; the module
    itself trains with plain Pyro SVI (it registers its networks with ``pyro.module``)."""
    import pyro

    import pyrovae as pv
    from pyrovae.models.user import as_model

    monkeypatch.syspath_prepend(str(HERE))
    from user_models.two_layer import TwoLayer

    data = pv.load_dataset("digits")
    module = TwoLayer(data.event_shape, hidden=8)
    model = as_model(module)
    assert model.inner is module and list(model.parameters())[0] is next(module.parameters())
    before = pv.evaluate_elbo(model, data.valid.x)["elbo"]
    pv.Trainer(model, lr=1e-2).fit(data, epochs=2, seed=0)
    assert pv.evaluate_elbo(model, data.valid.x)["elbo"] > before
    pyro.clear_param_store()
    plain = TwoLayer(data.event_shape, hidden=8)
    svi = pyro.infer.SVI(plain.model, plain.guide, pyro.optim.Adam({"lr": 1e-2}),
                         pyro.infer.Trace_ELBO())
    losses = [sum(svi.step(x) for x in data.train.x.split(128)) for _ in range(3)]
    assert losses[-1] < losses[0] and len(pyro.get_param_store()) == len(list(plain.parameters()))


# -- refusals: one line, exit status 2, nothing written -----------------------------------------

GOOD = FILE.read_text()


def program(model, guide):
    """The source of a one-latent model ``Mine`` with the given bodies of its programs."""
    indent = lambda body: "\n".join("        " + line for line in body.strip().splitlines())
    return f"""import pyro
import pyro.distributions as dist
import torch
from torch import nn


class Mine(nn.Module):
    def __init__(self, event_shape):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def model(self, x, y=None, kl_weight=1.0):
{indent(model)}

    def guide(self, x, y=None, kl_weight=1.0):
{indent(guide)}
"""


MODEL = """
with pyro.plate("data", x.shape[0]):
    z = pyro.sample("z", dist.Normal(x.new_zeros(2), 1.0).to_event(1))
    loc = (z.sum(-1) * self.w).reshape(*z.shape[:-1], 1, 1, 1)
    pyro.sample("x", dist.Normal(loc.expand(*z.shape[:-1], *x.shape[1:]), 1.0).to_event(3),
                obs=x)
"""
GUIDE = """
with pyro.plate("data", x.shape[0]):
    pyro.sample("z", dist.Normal(x.new_zeros(2) + self.w, 1.0).to_event(1))
"""

MODEL_FILES = [
    ("missing-file", None, "TwoLayer", "does not exist"),
    ("no-such-class", GOOD, "TwoLayr", "defines no 'TwoLayr' (did you mean 'TwoLayer'?)"),
    ("raises-on-import", "import math\n\nraise ValueError('boom')\n", "TwoLayer",
     "ValueError: boom"),
    ("syntax-error", "class TwoLayer(:\n", "TwoLayer", "SyntaxError"),
    ("not-a-module", "class TwoLayer:\n    def model(self, x): pass\n"
     "    def guide(self, x): pass\n", "TwoLayer", "is not a torch.nn.Module"),
    ("no-guide", "from torch import nn\n\nclass TwoLayer(nn.Module):\n"
     "    def model(self, x): pass\n", "TwoLayer", "has no 'guide' method"),
    ("not-a-class", "def TwoLayer(event_shape):\n    pass\n", "TwoLayer", "not a class"),
    ("good", program(MODEL, GUIDE), "Mine", None),
    ("no-data-plate", program(MODEL, 'pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], 2), '
                              '1.0).to_event(2))'), "Mine", "outside the 'data' plate"),
    ("guide-site-not-in-model", program(MODEL, GUIDE + '    pyro.sample("w", dist.Normal('
                                        'x.new_zeros(()), 1.0))'), "Mine",
     "the guide's site 'w' is not a site of the model"),
    ("model-site-not-in-guide", program(MODEL + '    pyro.sample("u", dist.Normal(x.new_zeros('
                                        '()), 1.0))', GUIDE), "Mine",
     "the model's latent site 'u' has no site in the guide"),
    ("observes-nothing", program(MODEL.split("    loc")[0], GUIDE), "Mine", "observes nothing"),
    ("fails-on-the-data", GOOD.replace("mlp(d, hidden, 2 * z1)", "mlp(d + 1, hidden, 2 * z1)"),
     "TwoLayer", "failed on 2 examples of shape (1, 8, 8): RuntimeError"),
]


@pytest.mark.parametrize("source, name, fragment", [c[1:] for c in MODEL_FILES],
                         ids=[c[0] for c in MODEL_FILES])
def test_a_bad_model_file_is_one_line(tmp_path, capsys, source, name, fragment):
    path = tmp_path / "mine.py"
    if source is not None:
        path.write_text(source)
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["train", "--model", f"{path}:{name}", "--out", str(out), "--epochs", "1",
                 "--quiet"])
    if fragment is None:  # the template itself is fine: the cases differ from it in one thing
        assert code == 0 and out.is_dir()
        return
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("pyrovae: error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == (
        [] if source is None else ["mine.py"])


@pytest.mark.parametrize("argv, fragment", [
    (["--set", "model.hiden=4"], "has no option 'hiden' (did you mean 'hidden'?)"),
    (["--set", "model.z1=0.5"], "model.z1 must be int"),
    (["--labels", "50"], "uses none"),
    (["--set", "model.alpha=1"], "not of"),
], ids=["option-typo", "option-type", "labels", "another-kinds-option"])
def test_its_options_are_checked_against_its_constructor(tmp_path, capsys, argv, fragment):
    assert main(["train", "--model", SPEC, "--out", str(tmp_path / "o"), *TINY, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert not (tmp_path / "o").exists()


def test_kl_weight_needs_programs_that_take_it(tmp_path, capsys):
    path = tmp_path / "beta.py"
    path.write_text(GOOD.replace("def model(self, x, y=None, kl_weight=1.0)",
                                 "def model(self, x, y=None)").replace("kl_scale(kl_weight)",
                                                                       "kl_scale(1.0)", 1))
    assert main(["train", "--model", f"{path}:TwoLayer", "--set", "model.kl_weight=0.5",
                 "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "takes no kl_weight argument" in capsys.readouterr().err


def test_a_changed_or_gone_model_file_is_refused(tmp_path, capsys):
    """The run records the file's SHA-256: every command that reads the run again refuses a
    changed or deleted file in one line, and leaves the run as it was."""
    path = tmp_path / "mine.py"
    shutil.copy(FILE, path)
    run = train(tmp_path / "run", spec=f"{path}:TwoLayer", epochs=1)
    assert main(["evaluate", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    path.write_text(GOOD + "\n# edited\n")
    commands = [["evaluate", str(run), "--iwae-k", "5"], ["compare", str(run)],
                ["sample", str(run)], ["plot", str(run), "-o", str(tmp_path / "c.png")],
                ["train", "--resume", str(run), "--epochs", "3"]]
    for fragment in ("has changed since this run recorded it", "is gone"):
        for argv in commands:
            capsys.readouterr()
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and fragment in err and str(path) in err, (argv, err)
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
        path.unlink(missing_ok=True)
    assert not (tmp_path / "c.png").exists()


def test_a_config_names_only_the_files_it_uses(tmp_path):
    """A run's config.toml rerun with another model (``--config RUN/config.toml --model ...``)
    neither checks nor keeps the digest of the old model's file."""
    path = tmp_path / "mine.py"
    shutil.copy(FILE, path)
    run = train(tmp_path / "run", spec=f"{path}:TwoLayer", epochs=1)
    path.write_text(GOOD + "\n# edited\n")
    new = tmp_path / "new"
    assert main(["train", "--config", str(run / "config.toml"), "--model", SPEC, "--out",
                 str(new), "--quiet"]) == 0
    text = (new / "config.toml").read_text()
    assert str(FILE) in text and str(path) not in text


@pytest.mark.parametrize("likelihood, flags, fragment", [
    ("dist.Bernoulli(logits=loc.expand(*z.shape[:-1], *x.shape[1:]))", [],
     "pyrovae: warning: the train, valid and test splits have values in (0, 1), outside the "
     "binary support of the model's site 'x' (Bernoulli, support Boolean())"),
    ("dist.Bernoulli(logits=loc.expand(*z.shape[:-1], *x.shape[1:]))",
     ["--set", "data.binarize=dynamic"], None),
    ("dist.LogNormal(loc.expand(*z.shape[:-1], *x.shape[1:]), 1.0)", [],
     "pyrovae: error: the train split of digits has values outside the support of the "
     "model's site 'x' (LogNormal, support GreaterThan(lower_bound=0.0))"),
], ids=["bernoulli-on-grey-levels-warns", "binarized-is-fine", "outside-the-support"])
def test_data_outside_the_observed_sites_support(tmp_path, capsys, likelihood, flags, fragment):
    """A model without a pyrovae likelihood has its data checked against the support of its
    observed site, read off one trace."""
    model = MODEL.replace("dist.Normal(loc.expand(*z.shape[:-1], *x.shape[1:]), 1.0)",
                          likelihood)
    assert model != MODEL
    path = tmp_path / "mine.py"
    path.write_text(program(model, GUIDE))
    capsys.readouterr()
    code = main(["train", "--model", f"{path}:Mine", "--out", str(tmp_path / "o"), "--epochs",
                 "1", "--quiet", *flags])
    err = capsys.readouterr().err
    assert code == (2 if "error" in (fragment or "") else 0), err
    if fragment is None:
        assert "warning" not in err
    else:
        assert fragment in err and err.count("\n") == 1, err
