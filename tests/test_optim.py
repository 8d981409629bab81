import pytest
import torch
from torch import nn

from pyrovae import OPTIMIZERS, ConfigError


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_default_matches_the_reference_update(name):
    """The fused kernel is an implementation detail: the same steps give the same weights."""
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    fast = OPTIMIZERS.resolve(name, {"params": a.parameters(), "lr": 1e-2})
    slow = OPTIMIZERS.resolve({"name": name, "fused": False}, {"params": b.parameters(), "lr": 1e-2})
    assert fast.defaults["fused"] is True and not slow.defaults["fused"]
    x = torch.randn(7, 5)
    for _ in range(5):
        for net, opt in ((a, fast), (b, slow)):
            opt.zero_grad()
            net(x).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)
    assert not torch.equal(a.weight, nn.Linear(5, 3).weight)


def test_every_optimizer_builds_and_steps():
    for name in OPTIMIZERS.names():
        net = nn.Linear(2, 1)
        opt = OPTIMIZERS.resolve(name, {"params": net.parameters(), "lr": 0.1})
        before = net.weight.detach().clone()
        net(torch.ones(1, 2)).sum().backward()
        opt.step()
        assert not torch.equal(before, net.weight), name


def test_unknown_optimizer():
    with pytest.raises(ConfigError, match="did you mean 'adam'"):
        OPTIMIZERS.get("adma")


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_eps_by_hand(name):
    """Adam's first step moves each weight by lr·g/(|g| + eps) (bias-corrected moments m̂ = g,
    v̂ = g²); with g = 1e-4 and Burda et al.'s eps = 1e-4 that is half the rate."""
    p = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = OPTIMIZERS.resolve(
        {"name": name, "eps": 1e-4, "weight_decay": 0.0},
        {"params": [p], "lr": 0.1},
    )
    assert opt.defaults["eps"] == 1e-4
    g = torch.tensor([1e-4, -1e-4, 3e-4], dtype=torch.float64)
    p.grad = g.clone()
    opt.step()
    expected = -0.1 * g / (g.abs() + 1e-4)
    assert torch.allclose(p.detach(), expected, rtol=1e-10, atol=0)


def test_sgd_weight_decay_by_hand():
    """SGD with L2 weight decay: p ← p − lr·(g + λ·p)."""
    p = nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = OPTIMIZERS.resolve({"name": "sgd", "weight_decay": 0.5}, {"params": [p], "lr": 0.1})
    p.grad = torch.tensor([0.25, 0.5], dtype=torch.float64)
    opt.step()
    expected = [1.0 - 0.1 * (0.25 + 0.5 * 1.0), -2.0 - 0.1 * (0.5 + 0.5 * -2.0)]
    assert p.detach().tolist() == pytest.approx(expected, rel=1e-12)


def test_rmsprop_passes_eps_and_weight_decay():
    p = nn.Parameter(torch.zeros(2))
    opt = OPTIMIZERS.resolve(
        {"name": "rmsprop", "eps": 1e-3, "weight_decay": 0.2}, {"params": [p], "lr": 0.1}
    )
    assert opt.defaults["eps"] == 1e-3 and opt.defaults["weight_decay"] == 0.2


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_betas_reach_the_optimizer(name):
    opt = OPTIMIZERS.resolve(
        {"name": name, "betas": [0.5, 0.75]}, {"params": [nn.Parameter(torch.zeros(1))], "lr": 0.1}
    )
    assert opt.defaults["betas"] == (0.5, 0.75)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("adam", {"betas": [0.9]}, r"betas must be a pair of numbers in \[0, 1\)"),
        ("adam", {"betas": [0.9, 1.0]}, "betas must be a pair"),
        ("adam", {"betas": [-0.1, 0.9]}, "betas must be a pair"),
        ("adamw", {"betas": 0.9}, "betas must be a pair"),
        ("adamw", {"betas": ["a", "b"]}, "betas must be a pair"),
        ("adam", {"eps": 0.0}, "eps must be a number > 0"),
        ("adamw", {"eps": -1e-8}, "eps must be a number > 0"),
        ("adam", {"eps": "1e-4"}, "eps must be a number > 0"),
        ("rmsprop", {"eps": 0}, "eps must be a number > 0"),
        ("adam", {"weight_decay": -0.1}, "weight_decay must be a number ≥ 0"),
        ("sgd", {"weight_decay": -1}, "weight_decay must be a number ≥ 0"),
        ("rmsprop", {"weight_decay": float("nan")}, "weight_decay must be a number ≥ 0"),
        ("sgd", {"momentum": -1}, r"momentum must be a number in \[0, 1\), got -1"),
        ("sgd", {"momentum": 1.0}, r"momentum must be a number in \[0, 1\)"),
        ("sgd", {"momentum": "0.9"}, "momentum must be a number"),
        ("sgd", {"nesterov": True}, "nesterov = true needs a momentum > 0"),
        ("sgd", {"momentum": 0.9, "nesterov": "yes"}, "nesterov must be true or false"),
        ("rmsprop", {"momentum": -0.5}, r"momentum must be a number in \[0, 1\)"),
        ("rmsprop", {"alpha": 2}, r"alpha must be a number in \[0, 1\)"),
        ("rmsprop", {"alpha": -0.1}, r"alpha must be a number in \[0, 1\)"),
        ("adam", {"fused": 3}, "fused must be true or false"),
        ("adamw", {"fused": "no"}, "fused must be true or false"),
        ("adam", {"lr": 0}, "the learning rate must be a number > 0, got 0"),
        ("sgd", {"lr": -1}, "the learning rate must be a number > 0"),
        ("rmsprop", {"lr": float("inf")}, "the learning rate must be a number > 0"),
        ("adamw", {"lr": True}, "the learning rate must be a number > 0"),
    ],
)
def test_bad_optimizer_options_are_one_line_config_errors(name, options, message):
    options = dict(options)
    lr = options.pop("lr", 0.1)
    with pytest.raises(ConfigError, match=message) as error:
        params = nn.Linear(2, 1).parameters()
        OPTIMIZERS.resolve({"name": name, **options}, {"params": params, "lr": lr})
    assert "\n" not in str(error.value) and str(error.value).startswith(f"optimizer '{name}': ")
