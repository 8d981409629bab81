"""Image grids written as PNG: samples from the prior and reconstructions."""

import math

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

__all__ = ["as_images", "save_grid", "save_reconstructions"]


def as_images(x, event_shape):
    """``(N, *event_shape)`` -> ``(N, C, H, W)`` for display, or ``None`` if it is not an image
    (a flat vector whose length is not a square)."""
    x = x.detach().float().cpu().reshape(-1, *event_shape)
    if len(event_shape) == 3:
        return x
    if len(event_shape) == 2:
        return x.unsqueeze(1)
    side = math.isqrt(event_shape[0])
    if side * side == event_shape[0]:
        return x.reshape(-1, 1, side, side)
    return None


def save_grid(images, path, nrow, target_width=640):
    """Save ``images`` (N, C, H, W), values clamped to [0, 1], as a PNG grid ``nrow`` wide,
    upscaled by an integer factor (nearest neighbour) so small images stay visible."""
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=1, pad_value=0.5)
    scale = max(1, target_width // grid.shape[-1])
    grid = grid.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    array = grid.permute(1, 2, 0).numpy()
    if array.shape[-1] == 1:
        plt.imsave(path, array[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        plt.imsave(path, array)
    return path


def save_reconstructions(originals, reconstructions, path, per_row=8):
    """Alternate rows of originals and their reconstructions."""
    rows = []
    for start in range(0, originals.shape[0], per_row):
        rows.append(originals[start : start + per_row])
        rows.append(reconstructions[start : start + per_row])
    return save_grid(torch.cat(rows), path, nrow=per_row)
