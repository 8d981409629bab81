"""The PNGs: grids, reconstructions, the comparison plot and training curves."""

import math

import pytest
import torch
from PIL import Image

from pyrovae.plots import (
    as_images,
    save_comparison_plot,
    save_grid,
    save_reconstructions,
    save_training_curves,
    training_curves_figure,
)


def test_as_images_reshapes_images_and_refuses_vectors():
    assert as_images(torch.rand(3, 16), (16,)).shape == (3, 1, 4, 4)  # a square vector
    assert as_images(torch.rand(3, 5, 6), (5, 6)).shape == (3, 1, 5, 6)
    assert as_images(torch.rand(3, 3, 8, 8), (3, 8, 8)).shape == (3, 3, 8, 8)
    assert as_images(torch.rand(3, 15), (15,)) is None


def test_grid_is_a_png_whose_pixels_are_the_images(tmp_path):
    """Two 2×2 images side by side, 1-pixel grey padding, upscaled to ~640 px wide."""
    images = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]], [[[1.0, 1.0], [0.0, 0.0]]]])
    path = save_grid(images, tmp_path / "grid.png", nrow=2)
    picture = Image.open(path).convert("L")
    width, height = picture.size  # grid of 7×4 pixels (2 images, padding 1) times the scale
    scale = 640 // 7
    assert (width, height) == (7 * scale, 4 * scale)
    pixel = lambda col, row: picture.getpixel((col * scale + scale // 2, row * scale + scale // 2))  # noqa: E731
    assert [pixel(1, 1), pixel(2, 1), pixel(1, 2), pixel(2, 2)] == [0, 255, 255, 0]
    assert [pixel(4, 1), pixel(5, 1), pixel(4, 2), pixel(5, 2)] == [255, 255, 0, 0]
    assert abs(pixel(0, 0) - 128) <= 1  # the grey padding
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_reconstructions_alternate_rows(tmp_path):
    originals, recons = torch.zeros(8, 1, 2, 2), torch.ones(8, 1, 2, 2)
    path = save_reconstructions(originals, recons, tmp_path / "r.png", per_row=4)
    picture = Image.open(path).convert("L")
    scale = 640 // 13  # 4 images of 2 pixels, 5 paddings
    rows = [picture.getpixel((1 * scale + scale // 2, (1 + 3 * r) * scale + scale // 2))
            for r in range(4)]
    assert rows == [0, 255, 0, 255]  # original, reconstruction, original, reconstruction


def test_training_curves_plot_each_run_and_skip_missing_values(tmp_path):
    a = [{"epoch": 1, "train_loss": 5.0, "lr": 1e-3},
         {"epoch": 2, "train_loss": 4.0, "lr": 1e-3, "valid_elbo": -4.5, "valid_kl": 1.0}]
    b = [{"epoch": 1, "train_loss": 6.0, "lr": 5e-4, "valid_elbo": float("nan")}]
    figure = training_curves_figure([("a", a), ("b", b)])
    loss, elbo, kl, lr = figure.axes
    assert [line.get_label() for line in loss.lines] == ["a", "b"]
    assert list(loss.lines[0].get_xdata()) == [1, 2] and list(loss.lines[0].get_ydata()) == [5, 4]
    assert [list(line.get_xdata()) for line in elbo.lines] == [[2]]  # NaN and missing skipped
    assert lr.get_yscale() == "log"
    path = save_training_curves([("a", a), ("b", b)], tmp_path / "curves.png")
    assert Image.open(path).format == "PNG"


def test_comparison_plot_skips_what_is_not_available(tmp_path):
    result = {
        "num_examples": 3, "gradient_draws": 2, "gradient_batch": 3,
        "estimators": [
            {"family": "importance", "estimator": "IS", "k": k, "mean": -k, "std": 0.1,
             "available": True} for k in (1, 10)
        ] + [{"family": "elbo-analytic", "estimator": "a", "k": 1, "mean": math.nan,
              "std": math.nan, "available": False}],
        "gradient_noise": [
            {"objective": "trace", "particles": 1, "group": "encoder", "variance": 2.0,
             "available": True},
            {"objective": "meanfield", "particles": 1, "group": "encoder",
             "variance": math.nan, "available": False},
        ],
    }
    path = save_comparison_plot(result, tmp_path / "c.png")
    assert Image.open(path).format == "PNG"


@pytest.mark.parametrize("bad", ["nowhere/x.png"])
def test_a_png_into_a_missing_folder_is_one_clear_error(tmp_path, bad):
    from pyrovae.errors import PyroVAEError

    with pytest.raises(PyroVAEError, match="cannot write"):
        save_grid(torch.rand(1, 1, 2, 2), tmp_path / bad, nrow=1)


def test_training_curves_keep_each_runs_colour_and_size(tmp_path):
    """A run without validation has no line in the validation panels, yet the next run keeps
    its own colour there, so the one legend above the panels stays true; the plotted data
    are the inputs; the PNG is 11 × 7.5 inches at 100 dpi."""
    a = [{"epoch": e, "train_loss": 10.0 - e, "lr": 1e-3} for e in (1, 2, 3)]
    b = [{"epoch": 1, "train_loss": 9.0, "lr": 1e-3, "valid_elbo": -9.5, "valid_kl": 2.0},
         {"epoch": 2, "train_loss": 8.0, "lr": 0.0, "valid_elbo": "", "valid_kl": True},
         {"epoch": 3, "train_loss": 7.0, "lr": 5e-4, "valid_elbo": -8.0, "valid_kl": 2.5}]
    figure = training_curves_figure([("a", a), ("b", b)])
    loss, elbo, kl, lr = figure.axes
    assert [line.get_color() for line in loss.lines] == ["C0", "C1"]
    assert [(line.get_label(), line.get_color()) for line in elbo.lines] == [("b", "C1")]
    assert list(elbo.lines[0].get_xdata()) == [1, 3]
    assert list(elbo.lines[0].get_ydata()) == [-9.5, -8.0]
    assert list(kl.lines[0].get_ydata()) == [2.0, 2.5]  # the boolean is not a number
    assert list(lr.lines[1].get_xdata()) == [1, 3]  # a rate of 0 has no place on a log axis
    assert lr.lines[1].get_drawstyle() == "steps-post"
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]
    assert [h.get_color() for h in legend.legend_handles] == ["C0", "C1"]
    path = save_training_curves([("a", a), ("b", b)], tmp_path / "curves.png")
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.size == (1100, 750)


def test_runs_that_classify_get_an_accuracy_panel(tmp_path):
    """A run with ``valid_accuracy`` (M2, ADGM) adds a fifth panel, in per cent, with its
    epochs of validation only; a run without one has no line there but keeps its colour."""
    a = [{"epoch": 1, "train_loss": 9.0, "lr": 1e-3},
         {"epoch": 2, "train_loss": 8.0, "lr": 1e-3, "valid_elbo": -8.5, "valid_kl": 2.0,
          "valid_accuracy": 0.8125}]
    b = [{"epoch": 1, "train_loss": 7.0, "lr": 1e-3, "valid_elbo": -7.5, "valid_kl": 1.0}]
    figure = training_curves_figure([("a", a), ("b", b)])
    loss, elbo, kl, lr, accuracy = figure.axes
    assert accuracy.get_title() == "validation accuracy of q(y|x) (%)"
    assert [(line.get_label(), line.get_color()) for line in accuracy.lines] == [("a", "C0")]
    assert list(accuracy.lines[0].get_xdata()) == [2]
    assert list(accuracy.lines[0].get_ydata()) == [81.25]
    assert list(elbo.lines[1].get_ydata()) == [-7.5]  # the other panels are unscaled
    path = save_training_curves([("a", a), ("b", b)], tmp_path / "curves.png")
    with Image.open(path) as picture:
        assert picture.size == (1600, 750)


def test_drawing_figures_leaves_matplotlib_as_it_was(tmp_path):
    """Figures are drawn on a bare ``matplotlib.figure.Figure``: pyplot is never imported and
    the backend never switched, so a notebook's inline figures keep working after training."""
    import subprocess
    import sys

    code = f"""
import sys, matplotlib, torch
backend = dict.__getitem__(matplotlib.rcParams, "backend")  # raw: get_backend() loads pyplot
from pyrovae.plots import save_grid, save_training_curves
save_grid(torch.rand(4, 1, 8, 8), {str(tmp_path / 'g.png')!r}, nrow=2)
save_training_curves([("a", [{{"epoch": 1, "train_loss": 2.0, "valid_elbo": -2.0,
                               "valid_kl": 0.5, "lr": 1e-3}}])], {str(tmp_path / 'c.png')!r})
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
assert dict.__getitem__(matplotlib.rcParams, "backend") == backend
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    assert (tmp_path / "g.png").stat().st_size > 0 and (tmp_path / "c.png").stat().st_size > 0


def test_reconstructions_of_a_short_last_row_stay_under_their_originals(tmp_path):
    """10 images 4 wide: the third row holds 2 originals and 2 grey places, and the
    reconstructions of those 2 start the next row (not beside the originals)."""
    originals, recons = torch.zeros(10, 1, 2, 2), torch.ones(10, 1, 2, 2)
    path = save_reconstructions(originals, recons, tmp_path / "r.png", per_row=4)
    picture = Image.open(path).convert("L")
    scale = 640 // 13
    assert picture.size == (13 * scale, (6 * 3 + 1) * scale)  # 6 rows of 2-pixel images
    at = lambda col, row: picture.getpixel((col * 3 * scale + 1 * scale + scale // 2,  # noqa: E731
                                            row * 3 * scale + 1 * scale + scale // 2))
    assert [at(c, 4) for c in range(4)] == [0, 0, 127, 127]  # originals 9, 10, then grey
    assert [at(c, 5) for c in range(4)] == [255, 255, 127, 127]  # their reconstructions


def test_a_two_channel_grid_draws_each_channel_as_a_grey_row(tmp_path):
    images = torch.stack([torch.zeros(2, 2), torch.ones(2, 2)])[None]  # channel 0 black, 1 white
    path = save_grid(images.repeat(3, 1, 1, 1), tmp_path / "g.png", nrow=3)
    picture = Image.open(path).convert("L")
    scale = 640 // 10
    assert picture.size == (10 * scale, 7 * scale)
    centre = lambda i: i * 3 * scale + scale + scale // 2  # noqa: E731
    assert [picture.getpixel((centre(c), centre(r))) for r in (0, 1) for c in range(3)] == \
        [0, 0, 0, 255, 255, 255]
