"""Figures written as PNG: image grids (samples, reconstructions) and the estimator comparison.

Image grids take images of any number of channels (:func:`display_tiles`): 1 channel is drawn
grey, 3 as RGB; any other count (2, 4, 5, ...) is drawn per channel, each image as a column of
grey tiles, one per channel, so every grid row of images becomes one row of tiles per channel
and the columns keep their meaning (a class, a test image). Four channels are drawn per channel
too, not as RGBA: a fourth channel need not be an alpha, and an alpha would hide the other
three where it is low. At most :data:`MAX_CHANNELS` channels are drawn (the first ones).
"""

import io
import math

import torch

from .errors import PyroVAEError
from .files import atomic_write
from .registry import plural


def _figure(**options):
    """A new :class:`matplotlib.figure.Figure`, drawn with no pyplot and no backend: nothing of
    the process's matplotlib state changes (a notebook keeps its inline figures). Imported
    when a figure is drawn: it costs about 0.3 s, which training should not pay before its
    first epoch."""
    from matplotlib.figure import Figure

    return Figure(**options)

__all__ = [
    "MAX_CHANNELS",
    "as_images",
    "display_tiles",
    "save_comparison_plot",
    "save_figure",
    "save_grid",
    "save_reconstructions",
    "save_samples",
    "save_training_curves",
    "training_curves_figure",
]


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


#: the most channels an image grid draws (per channel, the first ones); more would make a PNG
#: of tens of thousands of pixels for feature maps of 64 channels
MAX_CHANNELS = 16
#: the grey of the padding between tiles, and of the empty places of a grid's last row
PAD = 0.5


def display_tiles(images, nrow):
    """``images`` (N, C, H, W) in a grid ``nrow`` wide -> ``(tiles, nrow)`` that can be drawn:
    the images themselves for 1 (grey) and 3 (RGB) channels; for any other count, one grey
    tile per channel and image, every row of ``nrow`` images becoming C rows of tiles (channel
    c of image j in row c, column j of its block; the last row's empty places grey), at most
    :data:`MAX_CHANNELS` channels."""
    n, c = images.shape[:2]
    if c in (1, 3) or n == 0:
        return images, nrow
    c = min(c, MAX_CHANNELS)
    nrow = max(1, min(nrow, n))
    rows = -(-n // nrow)
    padded = images.new_full((rows * nrow, c, *images.shape[2:]), PAD)
    padded[:n] = images[:, :c]
    # (rows, nrow, c, H, W) -> (rows, c, nrow, H, W): a block of c tile rows per row of images
    tiles = padded.reshape(rows, nrow, c, *images.shape[2:]).transpose(1, 2)
    return tiles.reshape(rows * c * nrow, 1, *images.shape[2:]), nrow


def save_grid(images, path, nrow, target_width=640, elsewhere="another run directory"):
    """Save ``images`` (N, C, H, W), values clamped to [0, 1], as a PNG grid ``nrow`` wide,
    upscaled by an integer factor (nearest neighbour) so small images stay visible; any number
    of channels (:func:`display_tiles`)."""
    from torchvision.utils import make_grid  # imported here: torchvision adds ~200 MB RSS

    images, nrow = display_tiles(images.detach().float().cpu(), nrow)
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=1, pad_value=PAD)
    scale = max(1, target_width // grid.shape[-1])
    grid = grid.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    array = grid.permute(1, 2, 0).numpy()
    options = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0} if array.shape[-1] == 1 else {}
    png = io.BytesIO()  # rendered in memory, then written atomically (fsync, 0644, one-line errors)
    from matplotlib.image import imsave

    imsave(png, array[..., 0] if array.shape[-1] == 1 else array, format="png", **options)
    return atomic_write(path, lambda f: f.write(png.getvalue()), elsewhere)


def save_samples(module, n, path, event_shape, elsewhere="another -o", label=None):
    """A square-ish PNG grid of ``n`` samples E[x|z], z from the model's prior (``pyrovae
    sample``), all of class ``label`` when given (a label-aware model: ``sample(n, label)``);
    data that are not images are refused in one line."""
    drawn = module.sample(n) if label is None else module.sample(n, label)
    images = as_images(drawn, event_shape)
    if images is None:
        raise PyroVAEError("this run's data are not images; samples cannot be drawn as a grid")
    return save_grid(images, path, nrow=max(1, int(round(n**0.5))), elsewhere=elsewhere)


def save_reconstructions(originals, reconstructions, path, per_row=8):
    """Alternate rows of originals and their reconstructions (a short last row is filled with
    grey, so that each reconstruction stays under its original)."""
    per_row = max(1, min(per_row, originals.shape[0]))
    rows = []
    for start in range(0, originals.shape[0], per_row):
        chunk = slice(start, start + per_row)
        for images in (originals[chunk], reconstructions[chunk]):
            missing = per_row - images.shape[0]
            rows.append(images if not missing else
                        torch.cat([images, images.new_full((missing, *images.shape[1:]), PAD)]))
    return save_grid(torch.cat(rows), path, nrow=per_row)


def save_comparison_plot(result, path, elsewhere="another path"):
    """Two panels from :func:`pyrovae.compare.compare`'s result: the estimates of log p(x)
    against K (samples or particles, log axis; error bars: std across repeated runs), and the
    gradient variance against particles for the Monte Carlo (trace) and analytic (meanfield) KL
    objectives, per parameter group (log-log)."""
    fig = _figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)
    styles = {"importance": "o-", "elbo-mc": "s--", "elbo-analytic": "^--", "naive": "D"}
    families = {}
    for row in result["estimators"]:
        if row["available"]:
            families.setdefault(row["family"], []).append(row)
    for family, rows in families.items():
        ks = [r["k"] for r in rows]
        means = [r["mean"] for r in rows]
        errors = [0.0 if math.isnan(r["std"]) else r["std"] for r in rows]
        left.errorbar(ks, means, yerr=errors, fmt=styles.get(family, "o-"), capsize=3,
                      label=rows[0]["estimator"])
    left.set_xscale("log")
    left.set_xlabel("K (samples per example; particles for the ELBO)")
    left.set_ylabel("nats per example")
    left.set_title(f"estimates of log p(x) ({plural(result['num_examples'], 'example')})")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    curves = {}
    for row in result["gradient_noise"]:
        if row.get("available", True):  # e.g. meanfield for m2: no such objective
            curves.setdefault((row["objective"], row["group"]), []).append(row)
    for (objective, group), rows in curves.items():
        right.plot([r["particles"] for r in rows], [r["variance"] for r in rows],
                   "o-" if objective == "meanfield" else "s--", label=f"{objective}, {group}",
                   zorder=3 if objective == "trace" else 2)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("particles")
    right.set_ylabel("gradient variance (mean per coordinate)")
    right.set_title(f"gradient noise ({result['gradient_draws']} draws, batch of "
                    f"{result['gradient_batch']})")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, elsewhere=elsewhere)


def save_figure(fig, path, dpi=100, elsewhere="another -o"):
    """Render ``fig`` as PNG in memory and write it atomically to ``path``."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=dpi)
    return atomic_write(path, lambda f: f.write(png.getvalue()), elsewhere)


#: the panels of :func:`save_training_curves`: (metrics.csv column, title, log scale)
CURVES = (
    ("train_loss", "training loss (−ELBO, nats per example)", False),
    ("valid_elbo", "validation ELBO (nats per example)", False),
    ("valid_kl", "validation KL(q(z|x) ‖ p(z)) (nats)", False),
    ("lr", "learning rate", True),
)
#: the panel added for runs that classify (M2, ADGM, SDGM: metrics.csv's ``valid_accuracy``,
#: a fraction, drawn in per cent)
ACCURACY = ("valid_accuracy", "validation accuracy of q(y|x) (%)", False)


def _points(rows, column, log):
    """``(epoch, value)`` for the rows where both are finite numbers (and the value is positive
    on a log axis): epochs without validation, NaN and missing cells are skipped."""
    def number(value):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and math.isfinite(value)

    return [(r["epoch"], r[column]) for r in rows
            if number(r.get("epoch")) and number(r.get(column)) and (not log or r[column] > 0)]


def training_curves_figure(runs):
    """The figure of :func:`save_training_curves` (returned open, for inspection). Run ``i``
    has the colour ``C{i}`` in every panel, so one legend (above the panels) names them all
    even where a run has no points; the learning rate is drawn as steps (it is constant
    within an epoch). Where a run has a validation accuracy (a model that classifies), a
    fifth panel draws it."""
    from matplotlib.lines import Line2D

    classify = any(_points(rows, ACCURACY[0], False) for _, rows in runs)
    panels = (*CURVES, ACCURACY) if classify else CURVES
    fig = _figure(figsize=(16, 7.5) if classify else (11, 7.5))
    axes = fig.subplots(2, 3 if classify else 2)
    for extra in axes.flat[len(panels):]:
        fig.delaxes(extra)
    for ax, (column, title, log) in zip(axes.flat, panels):
        scale = 100 if column == ACCURACY[0] else 1  # a fraction, drawn in per cent
        for i, (label, rows) in enumerate(runs):
            points = _points(rows, column, log)
            if points:
                epochs, values = zip(*points)
                values = [scale * v for v in values]
                ax.plot(epochs, values, color=f"C{i}", label=label,
                        marker="." if len(points) < 30 else None,
                        drawstyle="steps-post" if column == "lr" else "default")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if log and ax.lines:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=f"C{i}", label=label) for i, (label, _) in enumerate(runs)]
    rows = max(1, math.ceil(len(handles) / 3))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.035 * rows))
    if handles:
        fig.legend(handles=handles, loc="upper center", ncol=min(3, len(handles)), fontsize=9,
                   frameon=False)
    return fig


def save_training_curves(runs, path):
    """Train loss, validation ELBO, validation KL and learning rate against epochs (and the
    validation accuracy of runs that classify), one line per run, overlaid and labelled
    (``pyrovae plot``).

    :param runs: ``[(label, rows)]`` with ``rows`` as :func:`pyrovae.runs.read_metrics`
        returns them (epochs without validation lack the ``valid_*`` values and are skipped).
    """
    return save_figure(training_curves_figure(runs), path)
