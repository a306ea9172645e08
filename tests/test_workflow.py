"""The researcher's daily tools: experiment= bundles and debug= modes, run tiny."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

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
    result = run_main(workdir, "experiment=digits_cnn_best", "trainer.epochs=1")
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

    overfit = run_main(workdir, "debug=overfit", "trainer.epochs=30",
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
