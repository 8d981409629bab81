"""Convolutional encoder and transposed-convolution decoder for (C, H, W) images."""

import math

from torch import nn

from ..errors import ConfigError
from .base import DECODERS, ENCODERS, check_sizes
from .base import activation as make_activation
from .mlp import mlp

__all__ = ["ConvDecoder", "ConvEncoder", "conv_sizes"]


def _check_image(shape, what):
    if len(shape) != 3:
        raise ConfigError(
            f"the conv {what} needs image data of shape (channels, height, width), got "
            f"{tuple(shape)}; use model.encoder = \"mlp\" and model.decoder = \"mlp\" for flat "
            "data"
        )


def _check_kernel(kernel_size):
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 \
            or kernel_size % 2 == 0:
        raise ConfigError(f"conv: kernel_size must be a positive odd integer, got {kernel_size!r}")
    return kernel_size


def conv_sizes(size, layers):
    """Side lengths after each stride-2 convolution with padding k//2 (odd k): ⌈s/2⌉ each time.

    ``conv_sizes(28, 2) == [28, 14, 7]``; ``conv_sizes(7, 1) == [7, 4]``.
    """
    sizes = [int(size)]
    for _ in range(layers):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


@ENCODERS.register("conv")
class ConvEncoder(nn.Module):
    """Convolutional encoder: stride-2 convolutions, then a hidden linear layer, then the output.

    Each convolution halves the height and width (rounding up), so any (C, H, W) works, e.g.
    1×28×28, 1×8×8 and 3×32×32.

    :param tuple in_shape: ``(channels, height, width)``.
    :param int out_features: features the posterior family needs.
    :param list channels: output channels of the convolutions (default ``[32, 64]``).
    :param int kernel_size: odd kernel size (default ``3``).
    :param int hidden: width of the linear layer after the convolutions (default ``256``).
    :param str activation: activation name (default ``"relu"``).
    """

    def __init__(self, in_shape, out_features, channels=(32, 64), kernel_size=3, hidden=256,
                 activation="relu"):
        super().__init__()
        _check_image(in_shape, "encoder")
        self.in_shape = tuple(in_shape)
        channels = check_sizes(channels)
        if not channels:
            raise ConfigError("channels must list at least one convolution's channel count, "
                              "e.g. [32, 64]; for no convolution use the 'mlp' network")
        k = _check_kernel(kernel_size)
        layers = []
        for a, b in zip([self.in_shape[0], *channels[:-1]], channels):
            layers += [nn.Conv2d(a, b, k, stride=2, padding=k // 2), make_activation(activation)]
        self.conv = nn.Sequential(*layers)
        h = conv_sizes(self.in_shape[1], len(channels))[-1]
        w = conv_sizes(self.in_shape[2], len(channels))[-1]
        self.head = nn.Sequential(
            nn.Flatten(), mlp([channels[-1] * h * w, *check_sizes(hidden), out_features], activation)
        )

    def forward(self, x):
        batch = x.shape[: x.dim() - 3]
        h = self.conv(x.reshape(-1, *self.in_shape))
        return self.head(h).reshape(*batch, -1)


@DECODERS.register("conv")
class ConvDecoder(nn.Module):
    """Transposed-convolution decoder, the mirror image of :class:`ConvEncoder`.

    latent -> linear (``hidden``) -> linear to ``channels[-1]`` maps of the encoder's smallest
    size -> stride-2 transposed convolutions (``output_padding`` chosen per layer so the sizes
    retrace the encoder's exactly) -> a final convolution to P·C channels, reshaped to
    ``(P, C, H, W)``.

    :param int in_features: latent size (plus any conditioning inputs).
    :param tuple out_shape: ``(P, channels, height, width)``.
    :param list channels: the encoder's channels; used in reverse (default ``[32, 64]``).
    :param int kernel_size: odd kernel size (default ``3``).
    :param int hidden: width of the first linear layer (default ``256``).
    :param str activation: activation name (default ``"relu"``).
    """

    def __init__(self, in_features, out_shape, channels=(32, 64), kernel_size=3, hidden=256,
                 activation="relu"):
        super().__init__()
        _check_image(out_shape[1:], "decoder")
        self.out_shape = tuple(out_shape)
        p, c, height, width = self.out_shape
        channels = check_sizes(channels)
        if not channels:
            raise ConfigError("channels must list at least one convolution's channel count, "
                              "e.g. [32, 64]; for no convolution use the 'mlp' network")
        k = _check_kernel(kernel_size)
        hs = conv_sizes(height, len(channels))
        ws = conv_sizes(width, len(channels))
        self.start = (channels[-1], hs[-1], ws[-1])
        self.head = nn.Sequential(
            mlp([in_features, *check_sizes(hidden), math.prod(self.start)], activation),
            make_activation(activation),
        )
        layers = []
        rev = channels[::-1]
        for i, (a, b) in enumerate(zip(rev, [*rev[1:], rev[-1]])):
            h_in, w_in = hs[-1 - i], ws[-1 - i]
            h_out, w_out = hs[-2 - i], ws[-2 - i]
            # (in − 1)·2 − 2(k//2) + k + output_padding = out  ->  output_padding ∈ {0, 1}
            pad = (h_out - (2 * (h_in - 1) + 1), w_out - (2 * (w_in - 1) + 1))
            layers += [
                nn.ConvTranspose2d(a, b, k, stride=2, padding=k // 2, output_padding=pad),
                make_activation(activation),
            ]
        layers.append(nn.Conv2d(rev[-1], p * c, k, padding=k // 2))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        batch = z.shape[:-1]
        h = self.head(z.reshape(-1, z.shape[-1])).reshape(-1, *self.start)
        return self.deconv(h).reshape(*batch, *self.out_shape)
