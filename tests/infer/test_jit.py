"""Pyro's JIT ELBOs (``jit = true``) compute the same loss as the eager ones, and train."""

import pyro
import pytest
import torch

import pyrovae as pv
from pyrovae.infer.objectives.jit import is_jit


def build_vae():
    return pv.VAE.build(
        (1, 4, 4), z_dim=3,
        encoder={"name": "mlp", "hidden": [8]}, decoder={"name": "mlp", "hidden": [8]},
    )  # fmt: skip


def compiled_graphs(objective):
    fn = getattr(objective, "_differentiable_loss", None) or objective._loss_and_surrogate_loss
    return len(fn.compiled)


@pytest.mark.parametrize("name", ["trace", "meanfield"])
def test_jit_loss_and_gradients_equal_eager(name):
    vae = build_vae()
    vae.param_store_name = "jit-test"
    jit = pv.OBJECTIVES.resolve({"name": name, "jit": True}, {"max_plate_nesting": 1})
    eager = pv.OBJECTIVES.resolve(name, {"max_plate_nesting": 1})
    assert is_jit(jit) and not is_jit(eager)
    x = torch.bernoulli(torch.rand(12, 1, 4, 4))
    params = list(vae.parameters())
    jit.differentiable_loss(*vae.programs, x)  # the first call traces (and draws extra noise)
    for batch in (12, 5):  # compiled once, reused for another batch size
        pyro.set_rng_seed(1)
        a = jit.differentiable_loss(*vae.programs, x[:batch])
        ga = torch.autograd.grad(a, params)
        pyro.set_rng_seed(1)
        b = eager.differentiable_loss(*vae.programs, x[:batch])
        gb = torch.autograd.grad(b, params)
        assert torch.allclose(a, b, rtol=1e-6), (batch, a.item(), b.item())
        for g, h in zip(ga, gb):
            assert torch.allclose(g, h, rtol=1e-5, atol=1e-6)
    assert compiled_graphs(jit) == 1  # traced once, not on every call


def test_trainer_with_jit_trains_and_recompiles_for_warmup():
    data = pv.load_dataset("digits", binarize="dynamic")
    vae = pv.VAE.build(data.event_shape, z_dim=2, encoder={"name": "mlp", "hidden": [16]},
                       decoder={"name": "mlp", "hidden": [16]})
    other = build_vae()  # a second model in the same process must not share parameters
    pv.Trainer(other, objective={"name": "trace", "jit": True}, progress=False)
    trainer = pv.Trainer(vae, objective={"name": "meanfield", "jit": True}, lr=3e-3,
                         kl_warmup_epochs=2, progress=False)
    assert vae.param_store_name != other.param_store_name
    rows = trainer.fit(data, epochs=3, batch_size=128)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert [r["kl_weight"] for r in rows] == [0.5, 1.0, 1.0]
    # after the warm-up the graph must use the current weight: compare with eager at β = 1
    x = data.valid.x[:16]
    eager = pv.OBJECTIVES.resolve("meanfield", {"max_plate_nesting": 1})
    trainer.objective.differentiable_loss(*vae.programs, x)  # graph compiled before the draw
    pyro.set_rng_seed(2)
    a = trainer.objective.differentiable_loss(*vae.programs, x)
    pyro.set_rng_seed(2)
    b = eager.differentiable_loss(*vae.programs, x)
    assert torch.allclose(a, b, rtol=1e-6)


def test_m2_refuses_jit():
    with pytest.raises(pv.ConfigError, match="jit"):
        pv.load_config(None, ["model.kind=m2", "train.objective.jit=true"])
