"""Any image layout a user has trains and has its figures drawn (issue 22, part 4).

Images of 1, 2, 3, 4 and 5 channels, saved channels-first ``(N, C, H, W)`` or channels-last
``(N, H, W, C)``, train one epoch through the command line and finish: ``results.json`` and the
PNGs are written, the channels-last ones are read as the same images, and the figures show
each image's channels where they belong: 1 channel grey, 3 as RGB, any other count one grey
tile row per channel (:func:`pyrovae.plots.display_tiles`).
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from pyrovae.cli import main
from pyrovae.data.arrays import channels_last
from pyrovae.plots import MAX_CHANNELS, display_tiles, save_grid

TINY = ["--epochs", "1", "--z-dim", "2", "--quiet", "--set", "model.encoder.hidden=[8]",
        "--set", "model.decoder.hidden=[8]"]
SIDE = 6
#: the grid geometry of a 6×6 image grid 8 wide: 1-pixel padding, upscaled to ~640 px
SCALE = 640 // (8 * (SIDE + 1) + 1)


def pattern(channels):
    """(C, 6, 6) of 0/1 (binarization leaves it as it is), different in every channel and not
    symmetric, so a swapped layout or channel would show."""
    i, k = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    return np.stack([((i + 2 * k + c) % 3 == 0) for c in range(channels)]).astype(np.float32)


def save(tmp_path, channels, layout, labels=False):
    x = np.repeat(pattern(channels)[None], 40, axis=0)  # (40, C, 6, 6)
    if layout == "last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (40, 6, 6, C)
    if labels:
        path = tmp_path / f"c{channels}-{layout}.npz"
        np.savez(path, x=x, y=np.arange(40) % 2)
    else:
        path = tmp_path / f"c{channels}-{layout}.npy"
        np.save(path, x)
    return str(path)


def tile_rows(channels):
    """Rows of tiles per row of images."""
    return 1 if channels in (1, 3) else min(channels, MAX_CHANNELS)


def pixel(picture, row, col, i, k):
    """The colour drawn for pixel (i, k) of the tile in tile row ``row``, column ``col``."""
    x = (col * (SIDE + 1) + 1 + k) * SCALE + SCALE // 2
    y = (row * (SIDE + 1) + 1 + i) * SCALE + SCALE // 2
    return picture.getpixel((x, y))


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
def test_every_layout_trains_and_draws(tmp_path, channels, layout):
    out = tmp_path / "run"
    assert main(["train", "--dataset", save(tmp_path, channels, layout), "--out", str(out),
                 *TINY]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"samples.png", "reconstructions.png"} <= set(results["files"])
    state = torch.load(out / "best.pt", weights_only=False)
    assert tuple(state["event_shape"]) == (channels, SIDE, SIDE)  # channels-last moved first

    rows = tile_rows(channels)
    width = (8 * (SIDE + 1) + 1) * SCALE
    with Image.open(out / "samples.png") as samples:  # 64 samples, 8 by 8
        assert samples.format == "PNG"
        assert samples.size == (width, (8 * rows * (SIDE + 1) + 1) * SCALE)
    with Image.open(out / "reconstructions.png") as recons:  # 8 test images over their recons
        assert recons.size == (width, (2 * rows * (SIDE + 1) + 1) * SCALE)
        picture = recons.convert("RGB")
    truth = pattern(channels)
    for col in (0, 7):  # the originals' row: every test image is the pattern
        for i in range(SIDE):
            for k in range(SIDE):
                drawn = pixel(picture, 0, col, i, k) if rows == 1 else [
                    pixel(picture, c, col, i, k)[0] for c in range(channels)]
                if channels == 1:
                    want = [255 * truth[0, i, k]] * 3
                elif channels == 3:
                    want = [255 * truth[c, i, k] for c in range(3)]
                else:
                    want = [255 * truth[c, i, k] for c in range(channels)]
                assert list(drawn) == want, (col, i, k)


@pytest.mark.parametrize("model", ["cvae", "m2", "cvae-quadrants"])
def test_a_kinds_own_figures_draw_two_channels(tmp_path, model):
    """The kinds' own pictures (class samples, analogies, completions) go through the same
    grid: two channels-last channels are drawn, not a crash."""
    out = tmp_path / "run"
    extra = ["--set", "model.classifier.hidden=[8]"] if model == "m2" else []
    assert main(["train", "--dataset", save(tmp_path, 2, "last", labels=True), "--model", model,
                 "--out", str(out), *TINY, *extra]) == 0
    files = json.loads((out / "results.json").read_text())["files"]
    pngs = [name for name in files if name.endswith(".png")]
    assert pngs, files
    for name in pngs:
        with Image.open(out / name) as picture:
            assert picture.format == "PNG" and picture.size[0] > 0


def test_resume_of_a_two_channel_run_finishes(tmp_path):
    """The run that used to crash in its figures, extended by an epoch, finishes too."""
    out = tmp_path / "run"
    data = save(tmp_path, 2, "first")
    assert main(["train", "--dataset", data, "--out", str(out), *TINY]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    assert json.loads((out / "results.json").read_text())["epochs_run"] == 2


@pytest.mark.parametrize("shape,last", [
    ((28, 28, 3), True), ((28, 28, 1), True), ((32, 32, 4), True), ((64, 64, 13), True),
    ((6, 6, 5), True), ((3, 32, 32), False), ((1, 28, 28), False), ((5, 6, 6), False),
    ((4, 4, 3), False), ((8, 8, 8), False), ((2, 4, 3), False), ((16, 16, 16), False),
])
def test_the_channels_last_rule(shape, last):
    assert channels_last(shape) is last


@pytest.mark.parametrize("channels", [2, 4, 5, MAX_CHANNELS + 3])
def test_display_tiles_puts_each_channel_in_its_own_row(channels):
    images = torch.rand(5, channels, 3, 2)
    tiles, nrow = display_tiles(images, nrow=4)
    shown = min(channels, MAX_CHANNELS)
    assert nrow == 4 and tiles.shape == (2 * shown * 4, 1, 3, 2)  # 2 rows of images
    grid = tiles.reshape(2, shown, 4, 3, 2)
    assert torch.equal(grid[0, :, 1], images[1, :shown])
    assert torch.equal(grid[1, :, 0], images[4, :shown])
    assert grid[1, :, 1:].eq(0.5).all()  # the last row's empty places are grey


def test_display_tiles_keep_grey_and_rgb_images():
    for channels in (1, 3):
        images = torch.rand(5, channels, 3, 2)
        tiles, nrow = display_tiles(images, nrow=4)
        assert tiles is images and nrow == 4


def test_a_grid_of_sixty_four_channels_draws_the_first_sixteen(tmp_path):
    path = save_grid(torch.rand(2, 64, 4, 4), tmp_path / "g.png", nrow=2)
    with Image.open(path) as picture:
        scale = 640 // (2 * 5 + 1)
        assert picture.size == (11 * scale, (MAX_CHANNELS * 5 + 1) * scale)


def test_conv_nets_take_five_channels_last(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--dataset", save(tmp_path, 5, "last"), "--out", str(out), *TINY,
                 "--set", 'model.encoder="conv"', "--set", 'model.decoder="conv"',
                 "--set", "model.encoder.channels=[4]",
                 "--set", "model.decoder.channels=[4]"]) == 0
    assert tuple(torch.load(out / "best.pt", weights_only=False)["event_shape"]) == (5, 6, 6)
    with Image.open(out / "samples.png") as picture:
        assert picture.size[1] == (8 * 5 * (SIDE + 1) + 1) * SCALE


def test_sample_command_draws_two_channels(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--dataset", save(tmp_path, 2, "last"), "--out", str(out), *TINY]) == 0
    png = tmp_path / "s.png"
    assert main(["sample", str(out), "-n", "6", "-o", str(png)]) == 0
    with Image.open(png) as picture:  # 6 samples 2 wide: 3 rows of images, 2 tile rows each
        scale = 640 // (2 * (SIDE + 1) + 1)
        assert picture.size == ((2 * (SIDE + 1) + 1) * scale, (6 * (SIDE + 1) + 1) * scale)
