"""logger=wandb, offline, read back with wandb's own reader (`wandb leet inspect --json`, wandb's Go core).

No network and no API key: the run must go offline by itself into `<run>/wandb/`. A run killed by SIGKILL after
its second epoch and resumed must give one W&B run (one id) whose files hold every epoch at step = epoch with
history.csv's values, the flattened parameters, the best checkpoint's final metrics and the pictures; a sweep's
trials are grouped by the study. W&B's own files go to the test's folder (HOME, cache, config, data).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import read_metrics, run_main

pytestmark = pytest.mark.xdist_group("wandb")
WANDB = Path(sys.executable).parent / "wandb"
ARGS = ["logger=[csv,wandb]", "trainer.epochs=3", "model.hidden_units=[16]"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, digits_data) -> Path:
    work = tmp_path_factory.mktemp("wandb")
    shutil.copytree(digits_data, work / "data")
    return work


@pytest.fixture(autouse=True)
def no_key_no_mode(monkeypatch):
    """Neither an API key nor WANDB_MODE in the jobs' environment: the run must go offline by itself."""
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def offline_env(work: Path) -> dict:
    """No netrc, nothing of W&B's in the real home folder."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "NETRC": str(home / "no-netrc"), "WANDB_CACHE_DIR": str(home / "cache"),
            "WANDB_CONFIG_DIR": str(home / "config"), "WANDB_DATA_DIR": str(home / "data")}


def inspect(wandb_file: Path) -> list[dict]:
    """Every record of a .wandb file, as wandb's own reader prints it."""
    out = subprocess.run([str(WANDB), "leet", "inspect", "--json", str(wandb_file)], capture_output=True, text=True,
                         check=True, env={**os.environ, "HOME": str(wandb_file.parents[3])}).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def w_and_b_run(run_dir: Path) -> dict:
    """What the run's W&B files say, merged over its processes in the order they started."""
    run_id = json.loads((run_dir / "wandb.json").read_text())["id"]
    folders = sorted((run_dir / "wandb").glob(f"offline-run-*-{run_id}*"))
    merged = {"id": run_id, "folders": folders, "runs": [], "history": {}, "summary": {}, "exit_codes": []}
    for folder in folders:
        for record in inspect(folder / f"run-{run_id}.wandb"):
            kind = record["type"]
            if kind == "run":
                merged["runs"].append(record["run"])
            elif kind == "history":
                step = int(record["history"].get("step", {}).get("num", 0))
                items = {k: v for k, v in record["history"]["item"].items() if not k.startswith("_")}
                merged["history"].setdefault(step, []).append(items)
            elif kind == "summary":
                merged["summary"].update(record["summary"].get("update", {}))
            elif kind == "exit":
                merged["exit_codes"].append(record["exit"].get("exit_code", 0))
    return merged


def test_an_offline_run_killed_and_resumed_is_one_wandb_run_with_every_epoch(workdir):
    env = offline_env(workdir)
    killed = run_main(workdir, *ARGS, "results_dir=single", fault={"point": "committed", "epoch": 2}, env=env)
    assert killed.returncode == -9, killed.stderr
    [run] = list((workdir / "single" / "mlp" / "digits").iterdir())
    resumed = run_main(workdir, f"run={run}", "results_dir=single", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "W&B: run" in resumed.stderr and "wandb sync" in resumed.stderr

    logged = w_and_b_run(run)
    assert len(logged["folders"]) == 2  # one offline folder per process, both inside the run
    assert {entry["run_id"] for entry in logged["runs"]} == {logged["id"]}
    [first, *_] = logged["runs"]
    assert first["project"] == "mlp_digits" and first["job_type"] == "train" and first["resume"] is True
    config = first["config"]["update"]
    assert config["optimizer.lr"] == pytest.approx(1e-3) and config["model.hidden_units"] == [16]
    assert config["trainer.epochs"] == 3 and "results_dir" not in config and "data_dir" not in config

    with open(run / "history.csv", newline="") as handle:
        rows = {int(row["epoch"]): row for row in csv.DictReader(handle)}
    assert sorted(logged["history"]) == [1, 2, 3] == sorted(rows)  # step = epoch, every epoch
    for step, entries in logged["history"].items():
        for items in entries:  # an epoch logged by both processes has the same values twice
            values = {name: value for name, value in items.items() if "." not in name}  # not the pictures' keys
            assert values.keys() == set(rows[step]) - {"epoch"}, (step, items)
            for name, value in values.items():
                assert value == pytest.approx(float(rows[step][name]), rel=1e-6), (step, name)
    pictures = {name.split(".")[0]: value for items in logged["history"][3] for name, value in items.items()
                if name.endswith("._type")}
    assert pictures == {"learning_curves": "image-file", "confusion_matrix": "image-file"}

    metrics = read_metrics(run)
    assert logged["summary"]["final_test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert logged["summary"]["final_val_loss"] == pytest.approx(metrics["val"]["loss"])
    assert logged["exit_codes"][-1] == 0
    images = sorted(p.name for p in logged["folders"][-1].glob("files/media/images/*.png"))
    assert any(name.startswith("learning_curves") for name in images)
    assert any(name.startswith("confusion_matrix") for name in images)
    assert not (Path(env["HOME"]) / ".netrc").exists()


def test_a_sweeps_trials_are_grouped_by_its_study(workdir):
    env = offline_env(workdir)
    swept = run_main(workdir, "-m", "hydra/sweeper=optuna", "hydra/sweeper/pruner=none", "hydra.sweeper.n_trials=2",
                     "hydra.sweeper.plots=false", "logger=wandb", "trainer.epochs=1", "model.hidden_units=[16]",
                     "results_dir=swept", env=env)
    assert swept.returncode == 0, swept.stderr
    trials = sorted(p for p in (workdir / "swept" / "sweeps" / "mlp_digits").iterdir() if p.name.isdigit())
    assert len(trials) == 2
    for trial in trials:
        [entry, *_] = w_and_b_run(trial)["runs"]
        assert entry["run_group"] == "mlp_digits" and entry["job_type"] == "trial"
        assert entry["display_name"] == f"trial {trial.name}"


def test_a_planted_link_in_place_of_the_wandb_folder_is_refused(workdir, tmp_path):
    env = offline_env(workdir)
    killed = run_main(workdir, *ARGS, "results_dir=planted", fault={"point": "committed", "epoch": 1}, env=env)
    assert killed.returncode == -9, killed.stderr
    [run] = list((workdir / "planted" / "mlp" / "digits").iterdir())
    shutil.rmtree(run / "wandb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "wandb").symlink_to(elsewhere)
    resumed = run_main(workdir, f"run={run}", "results_dir=planted", env=env)
    assert resumed.returncode == 2, resumed.stderr
    assert resumed.stderr.strip().splitlines()[-1] == (f"error: {run / 'wandb'} is a symbolic link: a run folder is read "
                                                       "as data, and nothing in it may lead out of it")
    assert list(elsewhere.iterdir()) == []


def test_a_mode_wandb_refuses_is_one_line_and_leaves_no_run(workdir):
    env = {**offline_env(workdir), "WANDB_MODE": "sometimes"}
    refused = run_main(workdir, *ARGS, "results_dir=refused", env=env)
    assert refused.returncode == 2, refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("error: logger=wandb: W&B could not start the run in mode sometimes: ") and \
        "Traceback" not in refused.stderr, refused.stderr
    assert not any(path.is_file() for path in (workdir / "refused").rglob("*"))  # failed before a checkpoint
