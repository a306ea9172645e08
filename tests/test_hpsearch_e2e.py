"""The real thing: an Optuna search over the MLP on digits, pruning included, then best=true."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil

import yaml

from tests.conftest import run_main


def test_mlp_search_prunes_trials_and_promotes_its_best(tmp_path, digits_data, monkeypatch):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "-m", "hpsearch=mlp", "hydra.sweeper.n_trials=4", "trainer.epochs=4",
                      "hydra/sweeper/pruner=hyperband",  # prunes at epoch 1 (the median: after epoch 5)
                      "hydra.sweeper.n_jobs=2", "hydra.sweeper.plots=false",  # two at a time, each in a forked process
                      "hydra.sweeper.sampler.n_startup_trials=4", "trainer.batch_size=128", "results_dir=elsewhere",
                      "hydra.sweeper.sampler.seed=1")  # of seeds 1-5, one whose four draws the pruner splits
    assert result.returncode == 0, result.stderr
    sweep_dir = tmp_path / "elsewhere" / "sweeps" / "mlp_digits"
    assert not (tmp_path / "results").exists()  # no folder claimed while Hydra merged the preset is left behind
    with open(sweep_dir / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    pruned = [r for r in rows if r["state"] == "PRUNED"]
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    assert pruned and complete, [r["state"] for r in rows]
    for row in pruned:  # a pruned trial ran fewer epochs, and its run folder says so
        metrics = json.loads((sweep_dir / row["number"] / "metrics.json").read_text())
        assert metrics["pruned_at_epoch"] < 4 and metrics["epochs_run"] == metrics["pruned_at_epoch"]
        assert abs(float(row["value"]) - metrics["val"]["accuracy"]) < 1e-6  # recorded with its last reported value
        assert "test" not in metrics  # a pruned trial is not evaluated further
    for row in complete:
        metrics = json.loads((sweep_dir / row["number"] / "metrics.json").read_text())
        assert metrics["epochs_run"] == 4 and "pruned_at_epoch" not in metrics
        # the two trials at a time share the cores, and each run records its share
        config = yaml.safe_load((sweep_dir / row["number"] / ".hydra" / "config.yaml").read_text())
        assert config["trainer"]["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
        assert abs(metrics["val"]["accuracy"] - float(row["value"])) < 1e-6
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(float(r["value"]) for r in complete)

    # promote into a copy of conf/, then best=true trains with it and the command line still wins
    from hpsearch import promote
    from models.base_model import BaseModel

    monkeypatch.setattr("models.base_model.CONF_DIR", tmp_path / "conf")
    written = promote.promote(sweep_dir)
    assert written == tmp_path / "conf" / "best_params" / "mlp_digits.yaml"
    promoted = yaml.safe_load(written.read_text())
    assert promoted == best["best_params"]
    assert BaseModel.best_config_path("digits").parent == tmp_path / "conf" / "best_params"


def test_best_true_applies_the_shipped_best_configuration_under_the_command_line(tmp_path, digits_data):
    from models import MLP

    shipped = MLP.best_config("digits")
    assert shipped, "conf/best_params/mlp_digits.yaml should ship with the project"
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "best=true", "trainer.epochs=1", "model.dropout=0.05")
    assert result.returncode == 0, result.stderr
    [run_dir] = list((tmp_path / "results" / "mlp" / "digits").iterdir())
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    for key, value in shipped.items():
        group, name = key.split(".")
        assert config[group][name] == (0.05 if key == "model.dropout" else value)
    # the run records the values best=true applied, so its replay never depends on conf/best_params/ again
    assert config["best"] is False and config["applied_best"] == {k: v for k, v in shipped.items()
                                                                   if k != "model.dropout"}
    command = json.loads((run_dir / "run.json").read_text())["command"]
    assert "best=true" not in command and "optimizer.lr=" in command
    replay = run_main(tmp_path, *shlex.split(command)[2:], "results_dir=replay")
    assert replay.returncode == 0, replay.stderr
    [replayed] = list((tmp_path / "replay" / "mlp" / "digits").iterdir())
    again = yaml.safe_load((replayed / ".hydra" / "config.yaml").read_text())
    assert {k: again[k] for k in ("model", "optimizer", "trainer", "seed")} == \
        {k: config[k] for k in ("model", "optimizer", "trainer", "seed")}
    assert json.loads((replayed / "metrics.json").read_text())["test"] == json.loads(
        (run_dir / "metrics.json").read_text())["test"]
    missing = run_main(tmp_path, "best=true", "dataset=synthetic")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: best=true: no best configuration for model=mlp on dataset=synthetic")


def test_any_model_is_searched_without_a_preset_and_the_sweep_continues(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    args = ["-m", "hydra/sweeper=optuna", "hydra/sweeper/pruner=none", "trainer.epochs=1",
            "model.hidden_units=choice([8],[16])", "optimizer.lr=interval(0.001,0.01)"]
    first = run_main(tmp_path, *args, "hydra.sweeper.n_trials=1")
    assert first.returncode == 0, first.stderr
    again = run_main(tmp_path, *args, "hydra.sweeper.n_trials=2")
    assert again.returncode == 0, again.stderr
    sweep_dir = tmp_path / "results" / "sweeps" / "mlp_digits"
    assert "1 of 2 trials already finished" in again.stderr
    with open(sweep_dir / "trials.csv") as handle:
        assert [row["number"] for row in csv.DictReader(handle)] == ["0", "1"]
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["0", "1"]
    assert not (tmp_path / "results" / "multirun").exists()
