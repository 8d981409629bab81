import math

import pytest
import torch

import pyrovae as pv
from pyrovae.train import TrainingError, kl_weight_at


def tiny_vae(data, **kwargs):
    return pv.VAE.build(
        data.event_shape, z_dim=2,
        encoder={"name": "mlp", "hidden": [16]}, decoder={"name": "mlp", "hidden": [16]},
        **kwargs,
    )  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic")


def test_kl_warmup_schedule():
    assert [kl_weight_at(e, 0.5, 4) for e in range(6)] == [0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    assert kl_weight_at(0, 0.7, 0) == 0.7


def test_fit_lowers_the_loss_and_records_metrics(digits):
    vae = tiny_vae(digits)
    trainer = pv.Trainer(vae, objective="meanfield", lr=3e-3, progress=False)
    rows = trainer.fit(digits, epochs=4, batch_size=64, seed=0)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 1.0
    assert rows[-1]["valid_elbo"] > rows[0]["valid_elbo"]


def test_warmup_is_applied_per_epoch(digits):
    vae = tiny_vae(digits)
    trainer = pv.Trainer(vae, kl_weight=1.0, kl_warmup_epochs=2, progress=False)
    rows = trainer.fit(digits, epochs=3, batch_size=256)
    assert [r["kl_weight"] for r in rows] == [0.5, 1.0, 1.0]


def test_step_uses_the_given_objective(digits):
    """One step's returned loss is the objective's −ELBO on that batch."""
    vae = tiny_vae(digits)
    trainer = pv.Trainer(vae, objective={"name": "trace", "num_particles": 3}, progress=False)
    assert trainer.objective.num_particles == 3 and trainer.objective.vectorize_particles
    x = digits.valid.x[:16]
    loss = trainer.step(x)
    assert loss.shape == () and math.isfinite(loss.item()) and loss.item() > 0


def test_diverging_loss_is_reported(digits):
    vae = tiny_vae(digits)
    with torch.no_grad():
        vae.decoder.net[-1].bias.fill_(float("nan"))
    trainer = pv.Trainer(vae, progress=False)
    with pytest.raises(TrainingError, match="lower the learning rate"):
        trainer.train_epoch([(digits.valid.x[:8], None)])
