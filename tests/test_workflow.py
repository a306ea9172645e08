"""The researcher's daily tools: experiment= bundles and debug= modes, run tiny."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, compose_config, run_main

EXPERIMENTS = sorted(path.stem for path in (PROJECT_ROOT / "conf" / "experiment").glob("*.yaml"))


@pytest.fixture
def workdir(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    return tmp_path


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_names_itself(name):
    config = compose_config(f"experiment={name}")
    assert config.experiment == name
    assert {"digits_cnn_best", "mnist_cnn"} <= set(EXPERIMENTS)
    if name == "mnist_cnn":
        assert config.dataset.name == "mnist" and config.model._target_ == "models.CNN"


def test_an_experiment_runs_and_its_name_is_recorded(workdir):
    result = run_main(workdir, "experiment=digits_cnn_best", "trainer.epochs=1", "trainer.limit_batches=2")
    assert result.returncode == 0, result.stderr
    [run] = (workdir / "results" / "cnn" / "digits").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["experiment"] == "digits_cnn_best" and "experiment=digits_cnn_best" in record["command"]
    assert "experiment: digits_cnn_best" in (run / ".hydra" / "hydra.yaml").read_text()
    assert "filters: 64" in (run / ".hydra" / "config.yaml").read_text()


def test_debug_fast_overfit_profile_and_nan(workdir):
    fast = run_main(workdir, "debug=fast", "model.hidden_units=[16]")
    assert fast.returncode == 0, fast.stderr
    [run] = (workdir / "results" / "mlp" / "digits").iterdir()
    assert len((run / "history.csv").read_text().splitlines()) == 2  # one epoch
    # 3 batches of 32 per split: the validation loss is an average over 96 examples, not 270
    assert "val_accuracy=" in fast.stderr and json.loads((run / "metrics.json").read_text())["epochs_run"] == 1

    overfit = run_main(workdir, "debug=overfit", "trainer.epochs=15",
                       "results_dir=overfit")
    assert overfit.returncode == 0, overfit.stderr
    [run] = (workdir / "overfit" / "mlp" / "digits").iterdir()
    header, *rows = [line.split(",") for line in (run / "history.csv").read_text().splitlines()]
    accuracy = [float(row[header.index("accuracy")]) for row in rows]
    assert accuracy[0] < 0.5 and max(accuracy) >= 0.99  # two batches, learnt by heart (through dropout)

    profiled = run_main(workdir, "debug=profile", "model.hidden_units=[16]", "results_dir=profiled")
    assert profiled.returncode == 0, profiled.stderr
    [run] = (workdir / "profiled" / "mlp" / "digits").iterdir()
    assert list((run / "train" / "plugins" / "profile").glob("*/*.xplane.pb"))  # TensorBoard's Profile tab

    nan = run_main(workdir, "debug=nan", "optimizer.lr=1e12", "trainer.epochs=2", "results_dir=nan")
    assert nan.returncode == 2
    lines = [line for line in nan.stderr.splitlines() if line.startswith("error:")]
    assert nan.stderr.strip().splitlines()[-1] == lines[0] and "Traceback" not in nan.stderr
    assert len(lines) == 1 and "NaN or Inf" in lines[0] and "sparse_categorical_crossentropy" in lines[0]


def test_loggers_tensorboard_csv_and_mlflow_with_a_sweep_as_one_experiment(workdir):
    from mlflow.tracking import MlflowClient

    # killed after its first epoch and resumed: one MLflow run, every epoch once
    killed = run_main(workdir, "logger=[tensorboard,mlflow]", "trainer.epochs=2", "model.hidden_units=[16]",
                      fault={"point": "committed", "epoch": 1})
    assert killed.returncode == -9, killed.stderr
    [run] = (workdir / "results" / "mlp" / "digits").iterdir()
    both = run_main(workdir, f"run={run}")
    assert both.returncode == 0, both.stderr
    assert (run / "train").is_dir() and (run / "mlflow.json").is_file()
    # the default store is a SQLite database MLflow's own client reads as it is (no opt-in to a file store)
    client = MlflowClient(f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    record = json.loads((run / "mlflow.json").read_text())
    assert record["tracking_uri"] == f"sqlite:///{(workdir / 'results' / 'mlflow.db').resolve()}"
    logged = client.get_run(record["run_id"])
    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert logged.data.params["model.hidden_units"] == "[16]" and logged.data.params["optimizer.lr"] == "0.001"
    assert logged.data.params["trainer.epochs"] == str(config["trainer"]["epochs"]) and len(logged.data.params) > 30
    assert logged.data.tags["run_folder"] == str(run.resolve())
    history = [(line.split(",")) for line in (run / "history.csv").read_text().splitlines()]
    column = history[0].index("val_accuracy")
    assert [(m.step, m.value) for m in client.get_metric_history(record["run_id"], "val_accuracy")] == [
        (int(row[0]), pytest.approx(float(row[column]))) for row in history[1:]]  # epochs 1, 2: once each
    metrics = json.loads((run / "metrics.json").read_text())
    assert logged.data.metrics["final_test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    artifacts = [a.path for a in client.list_artifacts(record["run_id"])]
    assert artifacts == ["learning_curves.png"]
    assert (workdir / "results" / "mlartifacts").is_dir() and not (workdir / "mlruns").exists()

    only_csv = run_main(workdir, "logger=csv", "trainer.epochs=1", "model.hidden_units=[16]", "results_dir=csv")
    assert only_csv.returncode == 0, only_csv.stderr
    [run] = (workdir / "csv" / "mlp" / "digits").iterdir()
    assert (run / "history.csv").is_file() and not (run / "train").exists() and not (run / "mlflow.json").exists()

    swept = run_main(workdir, "-m", "hydra/sweeper=optuna", "hydra/sweeper/pruner=none", "logger=mlflow",
                     "hydra.sweeper.n_trials=2", "hydra.sweeper.study_name=tiny", "trainer.epochs=1",
                     "model.hidden_units=choice([8],[16])")
    assert swept.returncode == 0, swept.stderr
    experiment = client.get_experiment_by_name("tiny")
    trials = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in trials) == ["trial 0", "trial 1"]
