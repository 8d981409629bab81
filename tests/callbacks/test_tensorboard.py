"""TensorBoard events when the package is there (a recording stand-in here), nothing (and no
change to the run) when it is not."""

import warnings

import pytest
import torch

import pyrovae as pv
from pyrovae.callbacks.tensorboard import TensorBoardLogger, summary_writer


class Recorder:
    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.images, self.closed = log_dir, [], [], False

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def add_image(self, tag, image, step):
        self.images.append((tag, tuple(image.shape), step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_scalars_every_epoch_and_a_sample_grid_every_few(tmp_path):
    vae = pv.VAE.build((1, 4, 4), z_dim=2, encoder={"name": "mlp", "hidden": [4]},
                       decoder={"name": "mlp", "hidden": [4]})
    logger = TensorBoardLogger(tmp_path, images_every=2, writer_factory=Recorder)
    before = torch.get_rng_state()
    for epoch in (1, 2):
        logger.log({"epoch": epoch, "train_loss": 3.5, "lr": 1e-3, "valid_elbo": -2.0,
                    "valid_kl_method": "analytic"}, vae, (1, 4, 4))
    logger.close()
    writer = logger.writer
    assert writer.log_dir == tmp_path and writer.closed
    assert ("train/loss", 3.5, 1) in writer.scalars and ("valid/elbo", -2.0, 2) in writer.scalars
    assert ("train/lr", 1e-3, 2) in writer.scalars
    assert [tag for tag, _, _ in writer.scalars].count("valid/kl_method") == 0  # text: skipped
    assert [(tag, step) for tag, _, step in writer.images] == [("samples", 2)]
    assert torch.equal(torch.get_rng_state(), before)  # the run's random stream is untouched


def test_without_tensorboard_nothing_is_written_and_nothing_said(tmp_path):
    factory = lambda log_dir: None  # noqa: E731  (what summary_writer returns without the package)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TensorBoardLogger(tmp_path, writer_factory=factory).log({"epoch": 1})
    off = TensorBoardLogger(tmp_path, enabled=False, writer_factory=Recorder)
    off.log({"epoch": 1, "train_loss": 1.0})
    assert off.writer is None


def test_summary_writer_matches_what_is_installed(tmp_path):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        assert summary_writer(tmp_path) is None
    else:
        summary_writer(tmp_path).close()
        assert any(p.name.startswith("events.") for p in tmp_path.iterdir())


def test_importing_the_module_does_not_import_tensorboard():
    """tensorboard (and torch.utils.tensorboard, which imports it) is imported only inside the
    function that builds a writer, so `import pyrovae` costs nothing without the extra."""
    import ast
    import inspect

    import pyrovae.callbacks.tensorboard as module

    def imports_run_at_import(node):
        """Modules imported by the statements that run when the module is imported (anything
        but function bodies, e.g. a top-level try/except import too)."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return []
        names = []
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names += [node.module or "", *(alias.name for alias in node.names)]
        for child in ast.iter_child_nodes(node):
            names += imports_run_at_import(child)
        return names

    names = imports_run_at_import(ast.parse(inspect.getsource(module)))
    assert names and not any("tensorboard" in name for name in names), names


def test_a_training_run_with_tensorboard_writes_its_events_into_the_final_folder(tmp_path):
    """The writer is opened after the run took its final path (a writer opened in the staging
    folder would lose its file at the commit)."""
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra")
    out = tmp_path / "run"
    pv.train(pv.load_config(None, ["train.epochs=2", "model.z_dim=2", f"output.dir=\"{out}\""]),
             progress=False, log=lambda message: None)
    events = [p for p in out.iterdir() if p.name.startswith("events.out.tfevents")]
    assert len(events) == 1 and events[0].stat().st_size > 0
