"""A user's script, fully typed: pyrovae's public API called as a user calls it.

tests/test_types.py checks it twice: ``mypy --strict`` (the hints must fit this use: every call
is of an annotated function, and ``assert_type`` pins what each returns) and a run (each value
is, at run time, of the type its hint says: ``check``). It is not collected by pytest.

    python tests/typed_usage.py DIR      # trains two tiny runs on digits into DIR (seconds)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, assert_type

import pyro
import pyro.distributions as dist
import torch
from torch import nn

import pyrovae as pv
from pyrovae import recipes
from pyrovae.callbacks import Fit

TINY = ['data.name="digits"', "data.binarize=\"dynamic\"", "model.z_dim=2",
        "model.encoder.hidden=[16]", "model.decoder.hidden=[16]", "train.epochs=1",
        "train.batch_size=128", "train.final_iwae_k=5"]


def check(value: object, kind: type | tuple[type, ...]) -> None:
    """At run time, what the hint says statically."""
    assert isinstance(value, kind), f"{value!r:.80} is a {type(value).__name__}, not {kind}"


class Rows(pv.Callback):
    """A callback of the user's own: every hook typed as the base class types it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}

    def on_fit_start(self, fit: Fit) -> None:
        check(fit.epochs, int)

    def on_epoch_end(self, fit: Fit) -> None:
        assert fit.row is not None
        self.rows.append(fit.row)
        check(fit.epoch, int)

    def on_fit_end(self, fit: Fit) -> None:
        assert fit.error is None

    def on_run_end(self, fit: Fit, results: dict[str, Any]) -> None:
        self.results = results
        check(fit.run_dir, Path)


class Tiny(nn.Module):
    """A model of the user's own: a plain module with a Pyro model and guide (``as_model``)."""

    def __init__(self, event_shape: tuple[int, ...], z_dim: int = 2) -> None:
        super().__init__()
        self.event_shape, self.z_dim = event_shape, z_dim
        pixels = int(torch.Size(event_shape).numel())
        self.encoder = nn.Linear(pixels, 2 * z_dim)
        self.decoder = nn.Linear(z_dim, pixels)

    def model(self, x: torch.Tensor, y: torch.Tensor | None = None,
              kl_weight: float = 1.0) -> None:
        pyro.module("tiny", self)
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
            logits = self.decoder(z).reshape(x.shape)
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(x.dim() - 1), obs=x)

    def guide(self, x: torch.Tensor, y: torch.Tensor | None = None,
              kl_weight: float = 1.0) -> None:
        pyro.module("tiny", self)
        with pyro.plate("data", x.shape[0]):
            loc, raw = self.encoder(x.flatten(1)).chunk(2, -1)
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-3).to_event(1))


@pv.PRIORS.register("typed-usage-normal", description="N(0, I), registered by a user")
class StandardNormal(pv.Prior):
    def forward(self) -> dist.Distribution:
        prior: dist.Distribution = dist.Normal(torch.zeros(self.z_dim), 1.0).to_event(1)
        return prior


def main(out: Path) -> None:
    # -- configs and recipes ----------------------------------------------------------------
    config = pv.load_config(overrides=TINY)
    assert_type(config, pv.Config)
    check(config, pv.Config)
    epochs: int = config.train.epochs
    config = pv.with_values(config, **{"train.epochs": epochs, "train.seed": 1})
    assert_type(config, pv.Config)
    names = recipes.names()
    assert_type(names, list[str])
    with recipes.path("vae-static") as file:
        assert_type(file, Path)
        recipe = pv.load_config(file, ["train.epochs=1"])
    assert_type(recipes.describe(), dict[str, str])
    assert_type(recipes.read("vae-static"), str)
    check(recipe, pv.Config)
    component = pv.Component("normal", {"min_scale": 0.01})
    assert_type(component.to_dict(), dict[str, Any])

    # -- data, a VAE, the trainer -------------------------------------------------------------
    data = pv.load_dataset("digits", binarize="dynamic", split_seed=0)
    assert_type(data, pv.DataSet)
    check(data, pv.DataSet)
    x = data.test.x[:64]
    assert_type(x, torch.Tensor)
    vae = pv.VAE.build(data.event_shape, z_dim=2, prior="typed-usage-normal",
                       encoder={"name": "mlp", "hidden": [16]},
                       decoder={"name": "mlp", "hidden": [16]})
    assert_type(vae, pv.VAE)
    check(vae, pv.VAE)
    rows = Rows()
    trainer = pv.Trainer(vae, objective="meanfield", lr=1e-3, callbacks=[rows], progress=False)
    metrics = trainer.fit(data, epochs=1, batch_size=128)
    assert_type(metrics, list[dict[str, Any]])
    check(metrics[0], dict)
    assert rows.rows == metrics
    loss = trainer.step(x)
    assert_type(loss, torch.Tensor)
    check(loss, torch.Tensor)

    # -- estimators ---------------------------------------------------------------------------
    result = vae.evaluate(x)
    assert_type(result, dict[str, Any])
    check(result["elbo"], float)
    summary = pv.evaluate_elbo(vae, x, num_samples=2)
    assert_type(summary, dict[str, Any])
    terms, method = pv.elbo_terms(vae, x)
    assert_type(terms, dict[str, torch.Tensor])
    assert_type(method, str)
    check(terms["elbo"], torch.Tensor)
    check(method, str)
    bounds = pv.importance_bound(vae, x, 5)
    assert_type(bounds, torch.Tensor)
    check(bounds, torch.Tensor)
    naive = pv.naive_estimate(vae, x, 5)
    assert_type(naive, torch.Tensor)
    check(naive, torch.Tensor)
    likelihood = pv.evaluate_log_likelihood(vae, x, num_samples=5, progress=False, log=print)
    assert_type(likelihood, dict[str, float])
    check(likelihood["log_likelihood"], float)
    check(vae.sample(4), torch.Tensor)
    check(vae.reconstruct(x), torch.Tensor)
    check(vae.kind, str)

    # -- a model of the user's own ------------------------------------------------------------
    own = pv.as_model(Tiny(data.event_shape))
    assert_type(own, pv.LatentVariableModel)
    check(own, pv.LatentVariableModel)
    pv.Trainer(own, progress=False).fit(data, epochs=1)

    # -- runs: train, fit, load_run -----------------------------------------------------------
    run_dir, module, epoch_rows = pv.train(pv.with_values(config, **{"output.dir": str(out / "a")}),
                                           progress=False, log=lambda line: None)
    assert_type(run_dir, Path)
    assert_type(module, pv.LatentVariableModel)
    assert_type(epoch_rows, list[dict[str, Any]])
    check(run_dir, Path)
    check(module, pv.LatentVariableModel)
    run = pv.fit(config, out / "b", quiet=True, callbacks=[Rows()])
    assert_type(run, pv.Run)
    check(run, pv.Run)
    again = pv.load_run(out / "b", checkpoint="last", device="cpu")
    assert_type(again, pv.Run)
    assert again.data is not None
    assert_type(again.data, pv.DataSet)
    scores = again.model.evaluate(again.data.test.x, batch_size=500)
    check(scores["elbo"], float)
    assert_type(again.epoch, int)
    assert_type(again.metrics, list[dict[str, Any]])
    assert again.results is not None
    check(again.results["test"], dict)
    z_dim: int = again.config.model.z_dim
    assert z_dim == 2 and again.epoch == 1
    check(again.device, torch.device)

    # -- registries ---------------------------------------------------------------------------
    assert_type(pv.PRIORS.names(), list[str])
    assert_type(pv.PRIORS.describe(), dict[str, str])
    assert_type(StandardNormal, type[StandardNormal])
    assert pv.PRIORS.describe()["typed-usage-normal"] == "N(0, I), registered by a user"
    assert "typed-usage-normal" in pv.PRIORS
    options = pv.PRIORS.options("learned-normal")
    check(options, dict)
    registry: pv.Registry = pv.REGISTRIES["priors"]
    check(registry, pv.Registry)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    print("typed usage ran")
