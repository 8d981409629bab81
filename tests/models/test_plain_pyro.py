"""Plain Pyro trains every shipped kind: ``pyro.infer.SVI`` with ``pyro.optim.Adam`` and
``Trace_ELBO`` (``TraceEnum_ELBO`` for a kind whose guide enumerates a site), as in Pyro's
``examples/vae/vae.py``. The kinds register their networks with ``pyro.module``; pyrovae's own
trainer and estimators run the same programs without touching the param store."""

import pyro
import pyro.optim
import pytest
import torch
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO

import pyrovae as pv
from pyrovae.errors import PyroVAEError
from pyrovae.infer.objectives import OBJECTIVES
from pyrovae.infer.traces import elbo_terms
from pyrovae.models.base import MODELS

KINDS = MODELS.names()


@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic")


def build(kind, data):
    torch.manual_seed(0)
    return MODELS.build(kind, {"event_shape": data.event_shape, "num_classes": data.num_classes})


def arguments(model, data, n=64):
    x, y = data.train.x[:n], data.train.y[:n]
    return (x, y) if model.conditional else (x,)


def enumerates(model, args):
    guide = poutine.trace(model.guide).get_trace(*args)
    return any(s["type"] == "sample" and s["infer"].get("enumerate") == "parallel"
               for s in guide.nodes.values())


def plain_elbo(model, args):
    if enumerates(model, args):
        return TraceEnum_ELBO(max_plate_nesting=model.max_plate_nesting)
    return Trace_ELBO()


@pytest.mark.parametrize("kind", KINDS)
def test_plain_svi_trains_every_kind(kind, digits):
    """Pyro's own loop: the loss falls (mean of the last 10 of 60 steps below the first 10's)
    and the param store holds exactly the model's trainable parameters."""
    model = build(kind, digits)
    args = arguments(model, digits)
    svi = SVI(model.model, model.guide, pyro.optim.Adam({"lr": 3e-3}), plain_elbo(model, args))
    losses = [svi.step(*args) for _ in range(60)]
    assert sum(losses[-10:]) < sum(losses[:10]), losses
    store = pyro.get_param_store()
    trainable = {f"{model.pyro_name}$$${n}" for n, p in model.named_parameters() if p.requires_grad}
    assert set(store.keys()) == trainable
    for name, p in model.named_parameters():  # the store holds the module's own tensors
        if p.requires_grad:
            assert store._params[f"{model.pyro_name}$$${name}"] is p


@pytest.mark.parametrize("kind", KINDS)
def test_one_plain_step_has_pyrovaes_loss_on_the_same_draws(kind, digits):
    model = build(kind, digits)
    args = arguments(model, digits, 16)
    elbo = plain_elbo(model, args)
    pyro.set_rng_seed(3)
    plain = elbo.differentiable_loss(model.model, model.guide, *args)
    objective = OBJECTIVES.build("trace", {"max_plate_nesting": model.max_plate_nesting})
    pyro.set_rng_seed(3)
    x, y = args[0], args[1] if model.conditional else None
    ours = model.loss(objective, x, y)
    torch.testing.assert_close(ours, plain, rtol=1e-6, atol=1e-4)


def test_pyrovae_trains_and_estimates_without_touching_the_param_store(digits):
    vae = build("vae", digits)
    pv.Trainer(vae, progress=False).fit(digits, epochs=1, batch_size=256, seed=0)
    elbo_terms(vae, digits.test.x[:8])
    assert len(pyro.get_param_store()) == 0


def test_a_second_model_of_the_same_kind_is_refused_not_silently_left_untrained(digits):
    first, second = build("vae", digits), build("vae", digits)
    x = digits.train.x[:8]
    svi = SVI(first.model, first.guide, pyro.optim.Adam({"lr": 1e-3}), Trace_ELBO())
    svi.step(x)
    svi = SVI(second.model, second.guide, pyro.optim.Adam({"lr": 1e-3}), Trace_ELBO())
    with pytest.raises(PyroVAEError, match=r"pyro.clear_param_store\(\)"):
        svi.step(x)
    pyro.clear_param_store()
    svi.step(x)  # after clearing, the second model trains
