"""The MLflow callback: a run's config, metrics, test metrics and figures in an MLflow store
(a SQLite file under tmp), the same MLflow run continued on resume; without the mlflow package,
one line. The tests that need mlflow skip when it is not installed (``pip install -e
".[mlflow]"``)."""

import json
import sys

import pytest

import pyrovae as pv
from pyrovae.callbacks import Callback
from pyrovae.callbacks.mlflow import RUN_ID_FILE, MLflowLogger, flatten_params
from pyrovae.config import load_config
from pyrovae.errors import CallbackError, ConfigError
from pyrovae.runfiles import read_metrics, read_results
from pyrovae.training.session import resume, train

MISSING = 'the mlflow callback needs the mlflow package: pip install -e ".[mlflow]"'


def quiet(*args):
    pass


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating its tables takes seconds)."""
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def client(store):
    from mlflow.tracking import MlflowClient

    return MlflowClient(store)


def digits_config(run_dir, *callbacks, epochs=2):
    """A tiny digits run naming ``callbacks`` (tables) in ``train.callbacks``."""
    tables = ", ".join("{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in c.items()) + "}"
                       for c in callbacks)
    return load_config(overrides=[f"train.epochs={epochs}", "model.z_dim=2",
                                  f"output.dir={run_dir}", f"train.callbacks=[{tables}]"])


def mlflow_run(client, run_dir):
    return client.get_run((run_dir / RUN_ID_FILE).read_text().strip())


def history(client, run_id, key):
    return [(m.step, m.value) for m in
            sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


@pytest.fixture(scope="module")
def trained(store, client, tmp_path_factory):
    """A 2-epoch digits run with the mlflow callback named in its config."""
    run_dir = tmp_path_factory.mktemp("runs") / "digits-vae"
    config = digits_config(run_dir, {"name": "mlflow", "tracking_uri": store,
                                     "experiment": "digits"})
    train(config, progress=False, log=quiet)
    return run_dir, mlflow_run(client, run_dir)


def test_a_run_logs_its_config_epochs_and_test_metrics(trained, client):
    run_dir, run = trained
    assert run.info.status == "FINISHED" and run.info.run_name == "digits-vae"
    assert client.get_experiment(run.info.experiment_id).name == "digits"
    params = run.data.params
    assert params["train.epochs"] == "2" and params["model.kind"] == "vae"
    assert params["model.z_dim"] == "2"
    assert params["model.encoder.name"] == "mlp" and params["model.encoder.hidden"] == "[400]"
    assert params["train.optimizer.name"] == "adam"
    rows = read_metrics(run_dir)
    assert history(client, run.info.run_id, "train_loss") == [(r["epoch"], r["train_loss"])
                                                            for r in rows]
    assert [s for s, _ in history(client, run.info.run_id, "valid_elbo")] == [1, 2]
    assert "epoch" not in run.data.metrics  # it is the step
    test = read_results(run_dir)["test"]
    assert run.data.metrics["test_elbo"] == test["elbo"]
    assert run.data.metrics["test_num_examples"] == test["num_examples"]


def test_the_figures_are_artifacts(trained, client):
    run_dir, run = trained
    pngs = sorted(name for name in read_results(run_dir)["files"] if name.endswith(".png"))
    assert pngs  # samples.png, reconstructions.png
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == pngs


def test_a_resumed_run_continues_its_mlflow_run(store, client, tmp_path):
    run_dir = tmp_path / "run"
    config = digits_config(run_dir, {"name": "mlflow", "tracking_uri": store,
                                     "experiment": "resumed"})
    train(config, progress=False, log=quiet)
    first = mlflow_run(client, run_dir).info.run_id
    resume(run_dir, epochs=3, progress=False, log=quiet)
    run = mlflow_run(client, run_dir)
    assert run.info.run_id == first and run.info.status == "FINISHED"
    assert len(client.search_runs([run.info.experiment_id])) == 1
    assert history(client, first, "train_loss") == [(r["epoch"], r["train_loss"])
                                                   for r in read_metrics(run_dir)]
    assert [s for s, _ in history(client, first, "train_loss")] == [1, 2, 3]
    # parameters cannot change in MLflow: the resume's new epochs are a tag
    assert run.data.params["train.epochs"] == "2"
    assert run.data.tags["resumed.train.epochs"] == "3"
    assert [s for s, _ in history(client, first, "test_elbo")] == [2, 3]


def test_a_callback_added_on_resume_logs_the_earlier_epochs_too(store, client, tmp_path):
    run_dir = tmp_path / "run"
    train(digits_config(run_dir), progress=False, log=quiet)
    assert not (run_dir / RUN_ID_FILE).exists()
    resume(run_dir, epochs=3, progress=False, log=quiet,
           callbacks=[MLflowLogger(tracking_uri=store, experiment="added")])
    run = mlflow_run(client, run_dir)
    assert history(client, run.info.run_id, "train_loss") == [(r["epoch"], r["train_loss"])
                                                            for r in read_metrics(run_dir)]
    assert run.data.params["train.epochs"] == "3"


def test_a_python_callback_object(store, client, tmp_path):
    logger = MLflowLogger(tracking_uri=store, experiment="python", run_name="mine")
    run_dir = tmp_path / "run"
    pv.fit(digits_config(run_dir), callbacks=[logger], quiet=True)
    logged = mlflow_run(client, run_dir)
    assert logged.info.run_name == "mine" and logged.info.status == "FINISHED"
    assert logged.data.params["model.kind"] == "vae"
    assert [s for s, _ in history(client, logged.info.run_id, "train_loss")] == [1, 2]

    # a trainer without a run directory: no config to log, the run ends with the fit, and
    # the same trainer's next fit continues it
    digits = pv.load_dataset("digits", binarize="dynamic")
    vae = pv.VAE.build(digits.event_shape, z_dim=2, encoder={"name": "mlp", "hidden": [16]},
                       decoder={"name": "mlp", "hidden": [16]})
    logger = MLflowLogger(tracking_uri=store, experiment="trainer")
    trainer = pv.Trainer(vae, progress=False, callbacks=[logger])
    rows = trainer.fit(digits, epochs=2, batch_size=512)
    first = client.get_run(logger.run_id)
    assert first.info.status == "FINISHED" and first.data.params == {}
    rows += trainer.fit(digits, epochs=3, batch_size=512)
    assert history(client, logger.run_id, "train_loss") == [(r["epoch"], r["train_loss"])
                                                           for r in rows]
    assert len(client.search_runs([first.info.experiment_id])) == 1


def test_a_failed_run_ends_its_mlflow_run_failed(store, client, tmp_path):
    class Failing(Callback):
        name = "failing"

        def on_epoch_end(self, fit):
            raise RuntimeError("no")

    run_dir = tmp_path / "run"
    config = digits_config(run_dir, {"name": "mlflow", "tracking_uri": store,
                                     "experiment": "failed"})
    with pytest.raises(CallbackError):
        train(config, progress=False, log=quiet, callbacks=[Failing()])
    run = mlflow_run(client, run_dir)
    assert run.info.status == "FAILED"
    assert [s for s, _ in history(client, run.info.run_id, "train_loss")] == [1]


def test_without_mlflow_the_error_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what import sees without the package
    with pytest.raises(ConfigError) as e:
        MLflowLogger()
    assert str(e.value) == MISSING
    run_dir = tmp_path / "run"
    config = digits_config(run_dir, {"name": "mlflow"})  # naming it in a config is fine...
    with pytest.raises(ConfigError) as e:  # ...training with it is not, before anything is written
        train(config, progress=False, log=quiet)
    assert str(e.value) == MISSING and "\n" not in str(e.value)
    assert not run_dir.exists()


def test_a_sqlite_store_without_sqlalchemy_is_one_line(monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(ConfigError, match=r"sqlite store needs the sqlalchemy and alembic "
                                          r'packages: pip install -e "\.\[mlflow\]"$'):
        MLflowLogger(tracking_uri="sqlite:///x.db")


def test_config_params_are_flat_and_short():
    params = flatten_params({
        "model": {"kind": "vae", "z_dim": 2, "prior": {"name": "normal"},
                  "encoder": {"name": "mlp", "hidden": [400, 200]}},
        "train": {"callbacks": [{"name": "mlflow"}], "compile": False, "note": "x" * 50},
        "plugins": {"sha256": {}, "imports": []},
        "data": {"dir": ""},
    }, max_length=20)
    assert params == {
        "model.kind": "vae", "model.z_dim": "2", "model.prior.name": "normal",
        "model.encoder.name": "mlp", "model.encoder.hidden": "[400, 200]",
        "train.callbacks": '[{"name": "mlflow"}]', "train.compile": "False",
        "train.note": "x" * 17 + "...", "plugins.sha256": "{}", "plugins.imports": "[]",
        "data.dir": "",
    }
    assert flatten_params({"plugins": {"sha256": {"my plugins/x=1.py": "ab"}}}) == {
        "plugins.sha256.my plugins/x_1.py": "ab"}  # MLflow's key characters only


def test_the_default_store_is_a_sqlite_file_here(monkeypatch, tmp_path):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert MLflowLogger().tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert MLflowLogger(tracking_uri="sqlite:///a/b.db").tracking_uri == (
        f"sqlite:///{tmp_path / 'a' / 'b.db'}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://localhost:5000")
    assert MLflowLogger().tracking_uri == "http://localhost:5000"

