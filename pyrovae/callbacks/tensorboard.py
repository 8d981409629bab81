"""TensorBoard event files for a run, when the optional ``tensorboard`` package is installed
(``pip install -e ".[tensorboard]"``); otherwise nothing is written and nothing is imported.

Every numeric column of a metrics row becomes a scalar (``train/loss``, ``valid/elbo``, ...,
against the epoch), and every ``images_every`` epochs a grid of samples from the prior is
added. View with ``tensorboard --logdir runs/``.
"""

import contextlib

import torch

from ..plots import as_images, display_tiles
from .base import CALLBACKS, Callback

__all__ = ["TensorBoard", "TensorBoardLogger", "summary_writer"]


def summary_writer(log_dir):
    """``torch.utils.tensorboard.SummaryWriter(log_dir)``, or ``None`` when the tensorboard
    package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises it when the tensorboard package is missing
        return None
    return SummaryWriter(log_dir=str(log_dir))


@contextlib.contextmanager
def _own_random_state(module):
    """A fork of the random state (CPU, and the module's CUDA device), seeded per grid: drawing
    pictures must not change the run's random stream, or a resumed run would differ."""
    param = next(module.parameters(), None)
    cuda = [param.device] if param is not None and param.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(0)
        yield


class TensorBoardLogger:
    """Writes a run's metrics (and sample grids) as TensorBoard events into ``run_dir``.

    :param run_dir: the run directory (the events go beside metrics.csv).
    :param bool enabled: ``output.tensorboard``: write when the tensorboard package is
        installed, silently nothing otherwise (default ``True``); ``False``: never.
    :param int images_every: epochs between sample grids (default 5).
    :param writer_factory: builds the writer from a folder (default :func:`summary_writer`).
    """

    def __init__(self, run_dir, enabled=True, images_every=5, writer_factory=summary_writer):
        self.images_every = int(images_every)
        self.writer = writer_factory(run_dir) if enabled else None

    def log(self, row, module=None, event_shape=None):
        """Scalars of one epoch's metrics row; a sample grid every ``images_every`` epochs."""
        if self.writer is None:
            return
        epoch = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                section, _, name = key.partition("_")
                tag = f"{section}/{name}" if section in ("train", "valid") else f"train/{key}"
                self.writer.add_scalar(tag, value, epoch)
        if (module is not None and event_shape is not None and epoch % self.images_every == 0
                and module.unconditional_samples):
            with _own_random_state(module):  # the run's random stream is not touched
                images = as_images(module.sample(64), event_shape)
            if images is not None:
                from torchvision.utils import make_grid

                tiles, nrow = display_tiles(images, 8)  # any channel count: grey, RGB or tiles
                self.writer.add_image("samples", make_grid(tiles.clamp(0, 1), nrow=nrow), epoch)
        self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()


@CALLBACKS.register("tensorboard")
class TensorBoard(Callback):
    """The training loop's TensorBoard events (:class:`TensorBoardLogger`): every epoch's
    metrics, and a sample grid every ``images_every`` epochs. ``output.tensorboard = true``
    (the default) adds it to every run.

    :param log_dir: where the event files go (default: the run directory; required when
        training without one).
    :param int images_every: epochs between sample grids (default 5).
    """

    name = "tensorboard"

    def __init__(self, log_dir=None, images_every=5):
        self.log_dir = log_dir
        self.images_every = int(images_every)
        self.logger = None

    def on_epoch_end(self, fit):
        if self.logger is None:  # opened after the first checkpoint: a run's directory only
            where = self.log_dir or fit.run_dir  # reaches its final path at that commit
            if where is None:
                return
            self.logger = TensorBoardLogger(where, images_every=self.images_every)
        self.logger.log(fit.row, fit.module, fit.dataset.event_shape)

    def on_fit_end(self, fit):
        if self.logger is not None:
            self.logger.close()
            self.logger = None
