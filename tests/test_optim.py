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
