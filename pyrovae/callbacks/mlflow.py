"""MLflow tracking for a run, when the optional ``mlflow`` extra is installed
(``pip install -e ".[mlflow]"``): ``train.callbacks = [{ name = "mlflow" }]`` in a config, or
``MLflowLogger()`` in ``callbacks=[...]`` from Python.

What an MLflow run gets:

* parameters: the run's config flattened to ``section.key`` (a component's name and options
  become ``section.key.name`` and ``section.key.option``; lists are JSON text; values longer
  than MLflow accepts are cut, ending in ``...``);
* metrics: every numeric column of every epoch's metrics row (``train_loss``, ``valid_elbo``,
  ...) with ``step`` = the epoch, and at the end the best epoch's test metrics as ``test_elbo``,
  ... (``test_<site>.<key>`` for nested tables) with ``step`` = the epochs run;
* artifacts: the run's PNG figures that ``results.json`` lists.

A resumed run continues its MLflow run: its id is kept in ``mlflow_run_id`` in the run directory
(written atomically), and epochs the MLflow run lacks (because the callback was added on resume,
or the previous session stopped between the checkpoint and the log) are logged first. Parameters
are immutable in MLflow: a key a resume changed (``train.epochs``) is recorded as the tag
``resumed.<key>``.

``mlflow`` is imported only when the callback is built, never by ``import pyrovae``. The callback
talks to its store through its own :class:`mlflow.tracking.MlflowClient`: it does not touch
MLflow's global state (``mlflow.set_tracking_uri``, the active run), so it can sit beside a
script's own ``mlflow.start_run()``.
"""

import json
import os
import re
import time
from numbers import Real
from pathlib import Path

from ..errors import ConfigError
from ..files import atomic_write
from .base import CALLBACKS, Callback

__all__ = ["MLflowLogger", "flatten_params", "RUN_ID_FILE"]

#: the file in the run directory that holds the MLflow run's id (for resume)
RUN_ID_FILE = "mlflow_run_id"
#: the store used when neither ``tracking_uri`` nor ``MLFLOW_TRACKING_URI`` names one: MLflow's
#: own default, a SQLite file in the current directory (what ``mlflow ui`` opens there)
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
#: the tag that records the last epoch logged (to know, on resume, what is missing)
EPOCH_TAG = "pyrovae.epoch"

MISSING = 'the mlflow callback needs the mlflow package: pip install -e ".[mlflow]"'
_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")  # MLflow's SQLAlchemy stores
_NOT_A_NAME = re.compile(r"[^/\w.\- :]")  # MLflow's keys: letters, digits, _ - . space : /


def _absolute(uri):
    """A ``sqlite:///relative.db`` URI made absolute against the current directory (so that the
    store does not move when the process changes directory); other URIs unchanged."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix):]
        if path and path != ":memory:" and not os.path.isabs(path):
            return prefix + os.path.abspath(path)
    return uri


def _sqlite_folder(uri):
    """The folder of a ``sqlite:///path`` store's file, or ``None`` for other stores."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and uri[len(prefix):] not in ("", ":memory:"):
        return Path(uri[len(prefix):].split("?")[0]).parent
    return None


def _key(text):
    """``text`` as an MLflow parameter or metric key (other characters become ``_``, at most
    250 of them)."""
    return _NOT_A_NAME.sub("_", str(text))[:250]


def _text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)


def flatten_params(config_dict, max_length=6000):
    """``{"section.key": text}`` of a config as nested dicts (``config.toml``'s tables):
    tables (a component's ``name`` and options) become dotted keys, lists JSON text, other
    values ``str``; values longer than ``max_length`` are cut to it, ending in ``...``."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            text = _text(value)
            if len(text) > max_length:
                text = text[:max_length - 3] + "..."
            out[_key(prefix)] = text

    walk("", config_dict)
    return out


def _numbers(mapping, prefix=""):
    """``{key: float}`` of the real numbers in ``mapping`` (bools and text skipped), nested
    tables as ``outer.inner``."""
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_numbers(value, f"{prefix}{key}."))
        elif isinstance(value, Real) and not isinstance(value, bool):
            out[_key(f"{prefix}{key}")] = float(value)
    return out


@CALLBACKS.register("mlflow")
class MLflowLogger(Callback):
    """Logs a run to MLflow: its config, every epoch's metrics, test metrics and figures.

    The config becomes parameters, every epoch's metrics row metrics with ``step`` = the epoch,
    then the test metrics and the PNG figures are added; a resumed run continues its MLflow
    run (see :mod:`pyrovae.callbacks.mlflow`).

    :param tracking_uri: the MLflow store (default: the ``MLFLOW_TRACKING_URI`` environment
        variable, else ``sqlite:///mlflow.db``, a SQLite file in the current directory, which
        needs no server and no network, and is what ``mlflow ui`` opens there). A relative
        ``sqlite:///`` path is taken against the current directory when the callback is built.
        Experiments this callback creates in a SQLite store keep their artifacts in ``mlruns``
        beside the database file. (MLflow 3 refuses the old ``file:`` stores.)
    :param str experiment: the MLflow experiment, created if missing (default ``"pyrovae"``).
    :param str run_name: the MLflow run's name (default: the run directory's name).
    """

    name = "mlflow"

    def __init__(self, tracking_uri=None, experiment="pyrovae", run_name=None):
        try:
            import mlflow  # noqa: F401  (an optional extra: imported only here and in the hooks)
        except ImportError:
            raise ConfigError(MISSING) from None
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
        self.tracking_uri = _absolute(str(uri))
        scheme = self.tracking_uri.partition(":")[0].split("+")[0]
        if scheme in _DATABASES:
            try:
                import alembic  # noqa: F401
                import sqlalchemy  # noqa: F401
            except ImportError:
                raise ConfigError(f"the mlflow callback's {scheme} store needs the sqlalchemy "
                                  'and alembic packages: pip install -e ".[mlflow]"') from None
        if not isinstance(experiment, str) or not experiment:
            raise ConfigError(f"the mlflow callback's experiment must be a name, got "
                              f"{experiment!r}")
        self.experiment = experiment
        self.run_name = run_name
        self.client = None
        self.run_id = None  # the MLflow run of the last fit (a trainer's next fit continues it)
        self.open = False  # whether the MLflow run is being logged to now
        self.logged_epoch = 0  # the last epoch whose metrics the MLflow run has

    # -- the hooks --------------------------------------------------------------------------

    def on_fit_start(self, fit):
        if self._active(fit):
            self._open(fit)

    def on_epoch_end(self, fit):
        if self.open:
            self._log_rows([fit.row])

    def on_fit_end(self, fit):
        # a run directory's session ends the MLflow run in on_run_end, after the test metrics
        # and figures; without one (or when training failed) there is no on_run_end to come
        if self.open and (fit.run is None or fit.error is not None):
            self._close(fit.error)

    def on_run_end(self, fit, results):
        if not self._active(fit):
            return
        if not self.open:  # a resume that only finishes the reports: no fit ran
            self._open(fit)
        from mlflow.entities import Metric

        stamp, step = int(time.time() * 1000), int(results.get("epochs_run") or fit.epoch)
        metrics = [Metric(f"test_{key}", value, stamp, step)
                   for key, value in _numbers(results.get("test") or {}).items()]
        self._batches(metrics=metrics)
        for name in results.get("files", ()):
            path = fit.run_dir / name
            if str(name).lower().endswith(".png") and path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        self._close(None)

    # -- the MLflow run ---------------------------------------------------------------------

    def _active(self, fit):
        """Only one process logs: rank 0 of a data-parallel run."""
        world = getattr(fit.trainer, "world", None)
        return world is None or world.is_main

    def _open(self, fit):
        """Start, or continue, the MLflow run; log the parameters and any rows it lacks."""
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        if self.client is None:
            self.client = MlflowClient(self.tracking_uri)
        run_id = self.run_id if fit.run is None else self._saved_id(fit.run_dir)
        run = None
        if run_id is not None:
            try:
                run = self.client.get_run(run_id)
            except MlflowException:  # another store, or the run was deleted from it
                run = None
            if run is not None and run.info.lifecycle_stage != "active":
                run = None
        if run is None:
            run = self._create(fit)
            if fit.run is not None:
                self._save_id(fit.run_dir, run.info.run_id)
        else:
            self.client.update_run(run.info.run_id, status="RUNNING")
        self.run_id, self.open = run.info.run_id, True
        self.logged_epoch = int(float(run.data.tags.get(EPOCH_TAG, 0)))
        self._log_params(fit, run.data.params)
        self._log_rows(fit.rows)

    def _create(self, fit):
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is None:
            folder = _sqlite_folder(self.tracking_uri)
            where = None if folder is None else (folder / "mlruns").resolve().as_uri()
            try:
                experiment_id = self.client.create_experiment(self.experiment, where)
            except MlflowException:  # created meanwhile by another process
                experiment = self.client.get_experiment_by_name(self.experiment)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        elif experiment.lifecycle_stage != "active":
            raise ConfigError(
                f"the mlflow callback's experiment {self.experiment!r} is deleted in "
                f"{self.tracking_uri}; restore it (mlflow experiments restore) or choose "
                "another experiment"
            )
        else:
            experiment_id = experiment.experiment_id
        name = self.run_name
        tags = {}
        if fit.run is not None:
            target = Path(getattr(fit.run, "target", None) or fit.run_dir)
            name = name or target.name
            tags["pyrovae.run_dir"] = str(target.resolve())
        return self.client.create_run(experiment_id, run_name=name, tags=tags)

    @staticmethod
    def _saved_id(run_dir):
        path = Path(run_dir) / RUN_ID_FILE
        try:
            return path.read_text().strip() or None
        except FileNotFoundError:
            return None

    @staticmethod
    def _save_id(run_dir, run_id):
        data = f"{run_id}\n".encode()
        atomic_write(Path(run_dir) / RUN_ID_FILE, lambda f: f.write(data))

    def _log_params(self, fit, existing):
        """The config as parameters; those the MLflow run already has at another value (a
        resume's ``train.epochs``) as ``resumed.<key>`` tags."""
        if fit.settings is None:  # training in memory: no config to record
            return
        from mlflow.entities import Param, RunTag

        params = flatten_params(fit.settings, _max_param_length())
        new = [Param(key, value) for key, value in params.items() if key not in existing]
        changed = [RunTag(f"resumed.{key}", value) for key, value in params.items()
                   if key in existing and existing[key] != value]
        self._batches(params=new, tags=changed)

    def _log_rows(self, rows):
        """Every numeric column of the rows after the last epoch logged, ``step`` = epoch."""
        from mlflow.entities import Metric, RunTag

        stamp = int(time.time() * 1000)
        metrics, last = [], self.logged_epoch
        for row in rows:
            epoch = int(row.get("epoch", 0))
            if epoch <= self.logged_epoch:
                continue
            last = max(last, epoch)
            metrics += [Metric(key, value, stamp, epoch)
                        for key, value in _numbers(row).items() if key != "epoch"]
        if last > self.logged_epoch:
            self._batches(metrics=metrics, tags=[RunTag(EPOCH_TAG, str(last))])
            self.logged_epoch = last

    def _batches(self, metrics=(), params=(), tags=()):
        """``log_batch`` in chunks MLflow accepts (100 params or tags, 1000 entities)."""
        metrics, params, tags = list(metrics), list(params), list(tags)
        while metrics or params or tags:
            p, params = params[:100], params[100:]
            t, tags = tags[:100 - len(p)], tags[100 - len(p):]
            m, metrics = metrics[:1000 - len(p) - len(t)], metrics[1000 - len(p) - len(t):]
            self.client.log_batch(self.run_id, metrics=m, params=p, tags=t)

    def _close(self, error):
        status = ("FINISHED" if error is None
                  else "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        self.client.set_terminated(self.run_id, status=status)
        self.open = False


def _max_param_length():
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
    except ImportError:  # older MLflow: its limit then
        return 500
    return MAX_PARAM_VAL_LENGTH
