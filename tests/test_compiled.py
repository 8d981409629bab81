"""The compiled step (pyrovae.compiled): the traced graph gives the eager step's loss and
gradients, for every model kind and objective, with the same keyed noise."""

import pyro
import pytest
import torch

import pyrovae as pv
from pyrovae.compiled import CompiledLoss
from pyrovae.errors import ConfigError
from pyrovae.noise import KeyedNoise


@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic", labels=50)


def eager(module, objective, x, y, kl_weight, seed, step):
    with KeyedNoise(seed, step), pyro.validation_enabled(False):
        loss = module.loss(objective, x, y, kl_weight=kl_weight)
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return loss.detach(), {n: g for n, g in zip(params, grads) if g is not None}


CASES = [
    ("vae", "trace", 1.0, False), ("vae", "meanfield", 0.5, False),
    ("vae", {"name": "trace", "num_particles": 3}, 0.0, False), ("vae", "iwae", 1.0, False),
    ("vae-iaf", "trace", 1.0, False), ("vae-vamp", "meanfield", 1.0, False),
    ("m2", "trace", 1.0, False), ("m2", "trace", 0.3, True),
    ("cvae", "trace", 1.0, True), ("cvae-class-prior", "meanfield", 0.5, True),
    ("cvae-quadrants", "trace", 1.0, False),
]


def build(kind, digits):
    if kind == "m2":
        return pv.models.M2.build(digits.event_shape, 10, z_dim=3)
    if kind == "cvae-quadrants":
        return pv.models.CVAEQuadrants.build(digits.event_shape, observed=2, z_dim=3)
    if kind.startswith("cvae"):
        return pv.models.CVAE.build(digits.event_shape, 10, z_dim=3,
                                    class_prior=kind == "cvae-class-prior")
    options = {"vae-iaf": {"guide": "iaf"}, "vae-vamp": {"prior": "vamp"}}.get(kind, {})
    return pv.VAE.build(digits.event_shape, z_dim=3, **options)


@pytest.mark.parametrize("kind,objective,kl_weight,labelled", CASES)
def test_the_traced_step_equals_the_eager_one(digits, kind, objective, kl_weight, labelled):
    """Loss to 1e-6 relative and gradients to 1e-4 absolute (float32 sums of ~1 000 terms
    of size ~10 in another order: differences of ~1e-5 seen), over two steps and two batch
    shapes (a graph per shape), with the noise of each step's key."""
    torch.manual_seed(0)
    module = build(kind, digits)
    trainer = pv.Trainer(module, objective=objective)
    compiled = CompiledLoss(module, trainer.objective, backend=None)
    for step, n in ((0, 40), (1, 40), (2, 17)):
        x = digits.train.x[step * 40:step * 40 + n]
        y = digits.train.y[step * 40:step * 40 + n] if labelled else None
        loss, grads = eager(module, trainer.objective, x, y, kl_weight, 7, step)
        got, got_grads, norm = compiled(x, y, kl_weight, 7, step)
        torch.testing.assert_close(got, loss, rtol=1e-6, atol=0)
        assert got_grads.keys() == grads.keys()
        for name, g in grads.items():
            torch.testing.assert_close(got_grads[name], g, rtol=1e-4, atol=1e-4, msg=name)
        expected_norm = torch.stack([g.norm() for g in grads.values()]).sum()
        torch.testing.assert_close(norm, expected_norm, rtol=1e-5, atol=0)
    assert len(compiled.graphs) == 2  # 40 and 17 examples; β and labels fixed


def test_the_noise_is_the_steps_own(digits):
    """A graph replays the noise of the key it is given, not the one it was traced with."""
    module = build("vae", digits)
    trainer = pv.Trainer(module, objective="trace")
    compiled = CompiledLoss(module, trainer.objective, backend=None)
    x = digits.train.x[:20]
    first, _, _ = compiled(x, None, 1.0, 0, 0)
    second, _, _ = compiled(x, None, 1.0, 0, 1)
    assert first != second
    torch.testing.assert_close(second, eager(module, trainer.objective, x, None, 1.0, 0, 1)[0])


def test_a_warm_up_does_not_retrace(digits):
    """β other than 0 and 1 is a tensor input: one graph for every warm-up weight."""
    module = build("vae", digits)
    trainer = pv.Trainer(module, objective="meanfield")
    compiled = CompiledLoss(module, trainer.objective, backend=None)
    x = digits.train.x[:20]
    for beta in (0.1, 0.2, 0.7):
        got, _, _ = compiled(x, None, beta, 0, 0)
        torch.testing.assert_close(got, eager(module, trainer.objective, x, None, beta, 0, 0)[0])
    assert len(compiled.graphs) == 1


def test_an_untraceable_component_is_refused_in_one_line(digits, monkeypatch):
    module = build("vae", digits)
    trainer = pv.Trainer(module, objective="trace")
    decoder = module.decoder.forward

    def reads_a_value(z):
        if z.sum() > 1e9:  # Python reads the tensor: cannot be traced
            return decoder(-z)
        return decoder(z)

    monkeypatch.setattr(module.decoder, "forward", reads_a_value)
    compiled = CompiledLoss(module, trainer.objective, backend=None)
    with pytest.raises(ConfigError, match=r"cannot be traced.*\(train\.compile = false\)") as info:
        compiled(digits.train.x[:8], None, 1.0, 0, 0)
    assert "\n" not in str(info.value)


def test_the_removed_jit_option_is_refused():
    """Pyro's JIT ELBOs were replaced by the compiled step."""
    with pytest.raises(ConfigError, match="jit"):
        pv.load_config(None, ["train.objective.jit=true"])


def test_a_compiled_training_run_equals_the_eager_one(digits):
    """End to end with inductor (the real compiler, tens of seconds the first time): two
    epochs of the Trainer, compiled or not, give the same losses to 1e-5 relative."""
    losses = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        module = pv.VAE.build(digits.event_shape, z_dim=4)
        trainer = pv.Trainer(module, objective="trace", progress=False, compile=compiled)
        rows = trainer.fit(digits, epochs=2, batch_size=256, seed=0)
        losses[compiled] = [r["train_loss"] for r in rows]
    assert losses[True] == pytest.approx(losses[False], rel=1e-5)
