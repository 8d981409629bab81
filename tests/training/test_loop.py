"""The SVI loop: metrics, the KL warm-up schedule, the objective it steps, and divergence."""

import math
import warnings

import pytest
import pyro
import torch

import pyrovae as pv
from pyrovae.divergence import DivergenceMonitor, TrainingError
from pyrovae.noise import KeyedNoise
from pyrovae.training import kl_weight_at


def tiny_vae(data, **kwargs):
    return pv.VAE.build(
        data.event_shape, z_dim=2,
        encoder={"name": "mlp", "hidden": [16]}, decoder={"name": "mlp", "hidden": [16]},
        **kwargs,
    )  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic")


def test_warmup_schedule_values():
    """β (e + 1) / W for epochs e = 0, 1, ... until it reaches β (it starts above 0)."""
    assert [kl_weight_at(e, 1.0, 4) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [kl_weight_at(e, 0.5, 4) for e in range(6)] == [0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    assert kl_weight_at(0, 2.0, 0) == 2.0 and kl_weight_at(7, 2.0, 0) == 2.0


def test_trainer_passes_the_scheduled_weight_to_the_loss(digits):
    """The row records β, and the loss the trainer steps is the model's loss at that β."""
    vae = tiny_vae(digits)
    seen = []
    loss = vae.loss
    vae.loss = lambda objective, x, y=None, kl_weight=1.0: (
        seen.append(kl_weight) or loss(objective, x, y, kl_weight=kl_weight))
    rows = pv.Trainer(vae, kl_weight=0.8, kl_warmup_epochs=2, progress=False).fit(
        digits, epochs=3, batch_size=512)
    assert [r["kl_weight"] for r in rows] == pytest.approx([0.4, 0.8, 0.8])
    steps = len(digits.batches(512, 0))
    assert seen == pytest.approx([0.4] * steps + [0.8] * 2 * steps)


def test_fit_lowers_the_loss_and_records_metrics(digits):
    vae = tiny_vae(digits)
    trainer = pv.Trainer(vae, objective="meanfield", lr=3e-3, progress=False)
    rows = trainer.fit(digits, epochs=4, batch_size=64, seed=0)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 1.0
    assert rows[-1]["valid_elbo"] > rows[0]["valid_elbo"]


@pytest.mark.parametrize("objective", [{"name": "trace", "num_particles": 3},
                                       {"name": "iwae", "num_particles": 4}],
                         ids=["trace-3", "iwae-4"])
def test_step_uses_the_given_objective(digits, objective):
    """One step's returned loss is exactly the objective's own loss on that batch under the same
    seed (and the model's parameters then move)."""
    vae = tiny_vae(digits)
    trainer = pv.Trainer(vae, objective=objective, progress=False)
    x = digits.valid.x[:16]
    with KeyedNoise(trainer.seed, trainer.global_step):  # the step's noise
        expected = trainer.objective.differentiable_loss(vae.model, vae.guide, x).item()
    before = [p.detach().clone() for p in vae.parameters()]
    assert trainer.step(x).item() == pytest.approx(expected, rel=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(before, vae.parameters()))


def _poison(vae, after):
    """Make the model's loss NaN from call number ``after`` on (0-based)."""
    loss, calls = vae.loss, [0]

    def poisoned(objective, x, y=None, kl_weight=1.0):
        calls[0] += 1
        value = loss(objective, x, y, kl_weight=kl_weight)
        return value * float("nan") if calls[0] > after else value

    vae.loss = poisoned


def test_a_nan_step_stops_training_before_the_optimizer_applies_it(digits):
    vae = tiny_vae(digits)
    _poison(vae, after=2)
    trainer = pv.Trainer(vae, progress=False)
    batches = [(digits.valid.x[i * 8:(i + 1) * 8], None) for i in range(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pyro's repeated NaN warnings must not reach the user
        trainer.train_epoch(batches[:2])  # epoch 1 is fine
        good = [p.detach().clone() for p in vae.parameters()]
        with pytest.raises(TrainingError, match=r"epoch 2, step 1 of 5: .*non-finite"):
            trainer.train_epoch(batches)
    for a, b in zip(good, vae.parameters()):
        assert torch.equal(a, b)  # the bad step never reached the parameters


def test_a_finite_blow_up_is_divergence(digits):
    vae = tiny_vae(digits)
    loss, calls = vae.loss, [0]

    def exploding(objective, x, y=None, kl_weight=1.0):
        calls[0] += 1
        return loss(objective, x, y, kl_weight=kl_weight) * (1e7 if calls[0] == 4 else 1.0)

    vae.loss = exploding
    batches = [(digits.valid.x[i * 8:(i + 1) * 8], None) for i in range(6)]
    with pytest.raises(TrainingError, match=r"epoch 1, step 4 of 6: the loss per example became"):
        pv.Trainer(vae, progress=False).train_epoch(batches)
    calls[0] = 0
    # with the check of the running level off, the same blow-up passes (only non-finite stops)
    pv.Trainer(vae, progress=False, divergence_factor=0).train_epoch(batches)


def test_monitor_reports_a_non_finite_gradient_and_keeps_the_first_bad_step():
    monitor = DivergenceMonitor(factor=10)
    finite = torch.tensor(1.0)
    monitor.observe(torch.tensor(100.0), finite, 0)
    monitor.observe(torch.tensor(99.0), finite, 1)
    monitor.check(1, 4)  # nothing yet
    monitor.observe(torch.tensor(98.0), torch.tensor(float("inf")), 2)
    monitor.observe(torch.tensor(float("nan")), finite, 3)
    with pytest.raises(TrainingError, match="step 3 of 4"):
        monitor.check(1, 4)
    level = 100.0 + 0.02 * (99.0 - 100.0)  # the bad steps did not move the running level
    assert float(monitor.level) == pytest.approx(level)
    monitor.end_epoch()
    first = level + 10 * level - 1  # just under the factor
    monitor.observe(torch.tensor(first), finite, 0)
    monitor.check(2, 2)
    level += 0.02 * (first - level)
    monitor.observe(torch.tensor(level + 10 * 1.01 * level), finite, 1)  # just over it
    with pytest.raises(TrainingError, match="step 2 of 2"):
        monitor.check(2, 2)
    assert math.isfinite(float(monitor.level))


# -- the run directory as a transaction (pv.train) -----------------------------------------

TINY = ["model.z_dim=2", "model.encoder.hidden=[16]", "model.decoder.hidden=[16]",
        "train.epochs=1"]


def _snapshot(folder):
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def old_run(tmp_path):
    """A finished m2 run (it has analogies.png, which a vae run does not write)."""
    out = tmp_path / "run"
    pv.train(pv.load_config(None, [*TINY, "model.kind=\"m2\"", "data.labels=50",
                                   f"output.dir=\"{out}\""]), progress=False, log=lambda m: None)
    assert (out / "analogies.png").exists()
    return out


def test_a_failed_overwrite_leaves_the_old_run_byte_identical(old_run):
    before = _snapshot(old_run)
    config = pv.load_config(None, [*TINY, "train.lr=1e3", f"output.dir=\"{old_run}\""])
    with pytest.raises(TrainingError, match=r"epoch 1, step \d+ of \d+: the loss per example "
                       r"became .*; the existing run in .* is untouched"):
        pv.train(config, progress=False, overwrite=True, log=lambda m: None)
    assert _snapshot(old_run) == before
    # no staging left (the empty lock file stays, free: filelock keeps its lock files)
    assert sorted(p.name for p in old_run.parent.iterdir()) == [".run.lock", "run"]


def test_a_failed_first_epoch_leaves_nothing(tmp_path):
    out = tmp_path / "fresh" / "run"
    config = pv.load_config(None, [*TINY, "train.lr=1e3", f"output.dir=\"{out}\""])
    with pytest.raises(TrainingError, match="nothing was written to"):
        pv.train(config, progress=False, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []  # not even the parent folder it made


def test_an_overwrite_replaces_the_old_run_whole(old_run):
    config = pv.load_config(None, [*TINY, f"output.dir=\"{old_run}\""])
    pv.train(config, progress=False, overwrite=True, log=lambda m: None)
    names = sorted(p.name for p in old_run.iterdir()
                   if not p.name.startswith("events.out.tfevents"))  # with tensorboard installed
    assert names == ["best.pt", "checkpoint.pt", "config.toml", "metrics.csv",
                     "reconstructions.png", "results.json", "samples.png"]  # no analogies.png
    assert "kind = \"vae\"" in (old_run / "config.toml").read_text()


def test_divergence_after_the_first_epoch_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import importlib

    train_module = importlib.import_module("pyrovae.training.session")
    from pyrovae.checkpoint import load_checkpoint
    from pyrovae.runfiles import load_run_config

    out = tmp_path / "run"
    config = pv.load_config(None, [*TINY, "train.epochs=3", f"output.dir=\"{out}\""])
    calls = [0]
    build = train_module.build_model

    def poisoned_build(*args):
        module = build(*args)
        loss = module.loss

        def poisoned(objective, x, y=None, kl_weight=1.0):
            calls[0] += 1
            value = loss(objective, x, y, kl_weight=kl_weight)
            return value * float("nan") if calls[0] > 12 else value  # epoch 2, step 3

        module.loss = poisoned
        return module

    monkeypatch.setattr(train_module, "build_model", poisoned_build)
    with pytest.raises(TrainingError, match=r"epoch 2, step 3 of 10.*keeps the checkpoint "
                       r"of epoch 1"):
        pv.train(config, progress=False, log=lambda m: None)
    _, state = load_checkpoint(out, load_run_config(out))
    assert state["epoch"] == 1


def test_divergence_on_the_last_step_is_reported_before_validation(digits):
    """A NaN on an epoch's last step is the divergence message, not a traceback from the
    validation that follows (which would meet NaN parameters)."""
    vae = tiny_vae(digits)
    steps = len(digits.batches(256, 0))
    _poison(vae, after=steps - 1)
    with pytest.raises(TrainingError, match=f"epoch 1, step {steps} of {steps}"):
        pv.Trainer(vae, progress=False).fit(digits, epochs=1, batch_size=256)


def test_the_trainer_flushes_subnormal_floats_while_it_fits(digits):
    """Subnormal floats make x86 arithmetic many times slower (a run's epochs grew 3x longer as
    Adam's moments sank into that range); a Trainer flushes them to zero while it fits, unless
    told not to, and leaves the process as it was afterwards."""
    supported = torch.set_flush_denormal(True)  # what this machine supports
    torch.set_flush_denormal(False)
    seen = []

    def record(row, improved):
        seen.append(torch.tensor([1e-40]).item())

    pv.Trainer(tiny_vae(digits), progress=False, flush_denormal=False).fit(
        digits, epochs=1, batch_size=256, on_epoch=record)
    assert seen[-1] == pytest.approx(1e-40)  # a float32 subnormal survives
    pv.Trainer(tiny_vae(digits), progress=False).fit(digits, epochs=1, batch_size=256,
                                                     on_epoch=record)
    assert seen[-1] == (0.0 if supported else pytest.approx(1e-40))
    assert torch.tensor([1e-40]).item() == pytest.approx(1e-40)  # off again after fit


def _gradients_after_one_step(digits, **clip):
    """The gradients of one step from a fresh model (computed before the SGD update, so every
    trainer sees the same gradient before clipping: same init, same keyed noise)."""
    pyro.set_rng_seed(0)
    trainer = pv.Trainer(tiny_vae(digits), optimizer="sgd", lr=1e-3, progress=False, **clip)
    trainer.step(digits.train.x[:64])
    return [p.grad.clone() for p in trainer.params]


def test_gradient_clipping_rescales_the_norm_then_clamps_the_values(digits):
    """clip_grad_norm C: g · C / ‖g‖ when the global norm ‖g‖ exceeds C; clip_grad_value V
    then clamps every entry to [−V, V] (Maaløe et al.'s order), checked by hand."""
    raw = _gradients_after_one_step(digits)
    norm = torch.sqrt(sum((g ** 2).sum() for g in raw))
    c = float(norm) / 10  # well below the gradient's norm, so it acts
    rescaled = [g * (c / norm) for g in raw]
    for got, want in zip(_gradients_after_one_step(digits, clip_grad_norm=c), rescaled):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    v = float(max(g.abs().max() for g in rescaled)) / 4
    both = _gradients_after_one_step(digits, clip_grad_norm=c, clip_grad_value=v)
    for got, want in zip(both, rescaled):
        torch.testing.assert_close(got, want.clamp(-v, v), rtol=1e-5, atol=1e-7)
    assert max(float(g.abs().max()) for g in both) <= v
    # a norm above the gradient's changes nothing
    for got, want in zip(_gradients_after_one_step(digits, clip_grad_norm=float(norm) * 10),
                         raw):
        assert torch.equal(got, want)


@pytest.mark.parametrize("value", [-1.0, float("nan"), "5"])
def test_a_bad_clipping_value_is_refused(digits, value):
    with pytest.raises(pv.ConfigError, match=r"clip_grad_norm must be a (finite )?number"):
        pv.Trainer(tiny_vae(digits), clip_grad_norm=value)


class _MisnamedGuide(torch.nn.Module):
    """A model of one's own whose guide names its latent site 'w' where the model has 'z'."""

    def __init__(self):
        super().__init__()
        self.loc = torch.nn.Parameter(torch.zeros(2))

    def model(self, x, y=None, kl_weight=1.0):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", pyro.distributions.Normal(x.new_zeros(2), 1.0).to_event(1))
            mean = z.sum(-1).reshape(-1, *[1] * (x.dim() - 1)).expand_as(x)
            pyro.sample("x", pyro.distributions.Normal(mean, 1.0).to_event(x.dim() - 1), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("w", pyro.distributions.Normal(self.loc, 1.0).to_event(1))


def test_fit_refuses_programs_it_cannot_read_before_the_first_step(digits):
    """Trainer.fit traces the programs once first, as pyrovae train does: a guide whose site
    the model does not have is one ProgramError line, not an error from deep in a step."""
    model = pv.as_model(_MisnamedGuide(), event_shape=digits.event_shape)
    with pytest.raises(pv.PyroVAEError, match="the model's latent site 'z' has no site in the "
                       "guide"):
        pv.Trainer(model, progress=False).fit(digits, epochs=1)
