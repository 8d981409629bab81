"""A run's final reports: the best epoch's test evaluation and bound, the figures, results.json.

They are computed with the best epoch's weights and their own seed (:func:`seeded`), so a run
killed at any point after its last epoch finishes them on resume
(:mod:`pyrovae.training.session`) with the numbers the uninterrupted run would have written.
The figures (:class:`~pyrovae.training.run_writers.Figures`, skipped with a warning when one
fails to draw) and results.json are one transaction on the run directory, with a resume's
config.toml when no epoch committed it; results.json is renamed last: a run is finished when
it exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import time
from pathlib import Path

import pyro
import torch

from .. import rng
from .._version import __version__
from ..checkpoint import read_checkpoint
from ..config import config_to_dict
from ..infer.importance import evaluate_log_likelihood
from ..models.guards import unchecked
from ..runfiles import BEST, RESULTS, RUN_FILES, write_results
from .loop import _call
from .run_writers import staging

__all__ = ["config_hash", "finish", "results", "seeded"]


def config_hash(config_dict):
    """SHA-256 of a config's canonical JSON (sorted keys), without the keys that do not change
    what is learned: ``output.dir``, ``train.epochs``, where it computes (``train.device``,
    ``train.num_threads``) and what it reports to (``train.callbacks``)."""
    canonical = {section: dict(table) for section, table in config_dict.items()}
    canonical["output"] = {k: v for k, v in canonical.get("output", {}).items() if k != "dir"}
    canonical["train"] = {k: v for k, v in canonical.get("train", {}).items()
                          if k not in ("epochs", "device", "num_threads", "callbacks")}
    text = json.dumps(canonical, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def seeded(seed):
    """The global random streams seeded with ``seed`` inside the block and restored after it:
    the final reports draw the same numbers however the run got there."""
    saved = rng.get_state()
    pyro.set_rng_seed(seed)
    try:
        yield
    finally:
        rng.set_state(saved)


def finish(session, run):
    """The final reports of ``session`` (a :class:`~pyrovae.training.Session`) into ``run``:
    the best epoch's weights back into the module, the test evaluation and bound
    (:func:`results`), the callbacks' ``on_run_end`` (the figures), then ``results.json``; the
    figures and results.json are one transaction, results.json renamed last. With ``run``
    ``None`` (a rank other than 0) only the sharded evaluations, in which every rank takes
    part."""
    if run is None:
        if session.keep_best.state is not None:
            session.module.load_state_dict(session.keep_best.state)
        with seeded(session.config.train.seed):
            results(session)
        return
    best = Path(run.path) / BEST
    if best.exists():
        session.module.load_state_dict(read_checkpoint(best)["state_dict"])
    with seeded(session.config.train.seed):
        summary = results(session)
        summary["files"] = [name for name in RUN_FILES
                            if name == RESULTS or (Path(run.path) / name).exists()]
        for callback in session.callbacks:
            _call(callback, "on_run_end", session.fit, summary)
    with staging(session.fit):
        write_results(run.path, summary)
    run.commit_files(last=(RESULTS,))


def results(session):
    """The run's summary: the best epoch's test ELBO (and importance-sampled bound with
    ``train.final_iwae_k`` samples), how and why training ended, versions."""
    t, trainer, test = session.config.train, session.trainer, session.dataset.test
    session.module.eval()
    with unchecked():  # the data were checked (and warned about) when the session began
        test_result = session.module.evaluate(test.x, test.y, t.eval_batch_size,
                                              t.eval_samples, world=session.world)
    result = {
        "config_sha256": config_hash(config_to_dict(session.config)),
        "epochs_run": trainer.epoch,
        "epochs": t.epochs,
        "best_epoch": trainer.best_epoch,
        "best_valid_elbo": trainer.best_elbo if trainer.best_epoch else None,
        "stop_reason": trainer.stop_reason or f"reached epoch {trainer.epoch}",
        "train_seconds": trainer.seconds,
        "test": test_result,
        "versions": {"pyrovae": __version__, "torch": torch.__version__,
                     "pyro": pyro.__version__, "python": platform.python_version()},
    }
    if t.final_iwae_k:
        session.log(f"final bound: the importance-sampled log-likelihood of the best epoch "
                    f"({trainer.best_epoch}) on the test split")
        start = time.perf_counter()
        with unchecked():  # the test data were checked when the session began
            bound = evaluate_log_likelihood(session.module, test.x, t.final_iwae_k,
                                            world=session.world, y=session.module.given(test.y),
                                            progress=session.progress, log=session.log)
        bound["seconds"] = time.perf_counter() - start
        result["test"].update(bound)
    return result
