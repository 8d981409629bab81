"""The network battery: every registered encoder and decoder keeps the shape contract
(``batch + in_shape -> batch + (F,)`` and ``batch + (D,) -> batch + (P,) + event_shape``) for
1x28x28, 1x8x8 and 3x32x32 images and any leading batch dimensions; conv refuses flat data."""

import pytest
import torch

from pyrovae.errors import ConfigError
from pyrovae.nets import DECODERS, ENCODERS
from pyrovae.nets.conv import conv_sizes

SHAPES = [(1, 28, 28), (1, 8, 8), (3, 32, 32)]
#: small sizes per network name so the battery stays fast
SMALL = {"mlp": {"hidden": [16]}, "conv": {"channels": [4, 8], "hidden": 16},
         "gated": {"hidden": [16, 8]}}


def test_every_network_has_small_options():
    for name in set(ENCODERS.names()) | set(DECODERS.names()):
        assert name in SMALL, f"add small test options for network '{name}' to SMALL"


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_shapes(name, shape):
    enc = ENCODERS.build(name, {"in_shape": shape, "out_features": 6}, **SMALL[name])
    assert enc(torch.rand(5, *shape)).shape == (5, 6)
    assert enc(torch.rand(2, 3, *shape)).shape == (2, 3, 6)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", DECODERS.names())
def test_decoder_shapes(name, shape):
    dec = DECODERS.build(name, {"in_features": 4, "out_shape": (2, *shape)}, **SMALL[name])
    assert dec(torch.randn(5, 4)).shape == (5, 2, *shape)
    assert dec(torch.randn(2, 3, 4)).shape == (2, 3, 2, *shape)


def test_conv_sizes_halve_rounding_up():
    assert conv_sizes(28, 2) == [28, 14, 7]
    assert conv_sizes(8, 3) == [8, 4, 2, 1]
    assert conv_sizes(7, 2) == [7, 4, 2]


@pytest.mark.parametrize("shape", [(1, 7, 9), (2, 5, 5)], ids=str)
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_conv_round_trips_odd_sizes_and_kernels(shape, kernel_size):
    opts = {"channels": [4, 4, 4], "hidden": 8, "kernel_size": kernel_size, "activation": "elu"}
    dec = DECODERS.build("conv", {"in_features": 2, "out_shape": (1, *shape)}, **opts)
    enc = ENCODERS.build("conv", {"in_shape": shape, "out_features": 3}, **opts)
    assert dec(torch.randn(3, 2)).shape == (3, 1, *shape)
    assert enc(torch.rand(3, *shape)).shape == (3, 3)


def test_conv_on_flat_data_is_a_config_error():
    with pytest.raises(ConfigError, match="mlp"):
        ENCODERS.build("conv", {"in_shape": (64,), "out_features": 4})
    with pytest.raises(ConfigError, match="mlp"):
        DECODERS.build("conv", {"in_features": 4, "out_shape": (1, 64)})


@pytest.mark.parametrize("options", [{"kernel_size": 4}, {"channels": [0]}, {"activation": "nope"}])
def test_conv_bad_options(options):
    with pytest.raises(ConfigError):
        ENCODERS.build("conv", {"in_shape": (1, 8, 8), "out_features": 4}, **options)


def test_one_gated_dense_layer_is_the_papers_formula():
    """h = (W₁x + b₁) ⊙ σ(W₂x + b₂), written by hand with fixed weights."""
    from pyrovae.nets.gated import GatedDense

    layer = GatedDense(3, 2)
    w1, b1 = torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]), torch.tensor([0.1, -0.2])
    w2, b2 = torch.tensor([[0.3, 0.0, -1.0], [2.0, 1.0, 0.0]]), torch.tensor([0.0, 0.5])
    with torch.no_grad():
        layer.linear.weight.copy_(w1)
        layer.linear.bias.copy_(b1)
        layer.gate.weight.copy_(w2)
        layer.gate.bias.copy_(b2)
    x = torch.tensor([[0.2, -1.0, 3.0]])
    linear = x @ w1.T + b1
    gate = 1 / (1 + torch.exp(-(x @ w2.T + b2)))
    assert torch.allclose(layer(x), linear * gate, atol=1e-6)
    encoder = ENCODERS.build("gated", {"in_shape": (1, 2, 2), "out_features": 5},
                                hidden=[4, 3])
    assert [type(m).__name__ for m in encoder.net] == ["GatedDense", "GatedDense", "Linear"]


@pytest.mark.parametrize("name, fn", [("none", lambda t: t), ("tanh", torch.tanh)])
def test_gated_activation_applies_to_the_linear_part_only(name, fn):
    """activation = "none" (the paper's default, and how a TOML config says it) is the
    identity; a named one wraps W₁x + b₁ and leaves the sigmoid gate alone."""
    from pyrovae.nets.gated import GatedDense

    torch.manual_seed(0)
    layer = GatedDense(4, 3, name)
    x = torch.randn(5, 4)
    expected = fn(layer.linear(x)) * torch.sigmoid(layer.gate(x))
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert ENCODERS.options("gated")["activation"] == "none"


def test_gated_unknown_activation_lists_none_among_the_choices():
    with pytest.raises(ConfigError, match="did you mean 'none'.*none, elu") as error:
        DECODERS.build("gated", {"in_features": 2, "out_shape": (1, 4)}, activation="nne")
    assert "\n" not in str(error.value)
