"""`python -m runs list|compare|clean` on a results folder built here: finished, pruned, interrupted and
failed runs, a sweep trial, empty folders, a half-prepared dataset and a hostile symbolic link."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import time

import pytest
from omegaconf import OmegaConf

from runs.__main__ import main
from tests.conftest import compose_config


@functools.cache
def config_yaml(*overrides: str) -> str:
    """The config a run of `overrides` records, composed once per test worker (0.25 s each)."""
    return OmegaConf.to_yaml(compose_config(*overrides), resolve=True)


def make(folder, *overrides, status="finished", epochs=3, val=0.9, test=0.88, started=0.0):
    """A run folder as training leaves it (config, overrides, metrics or checkpoint state)."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(config_yaml(*overrides, f"trainer.epochs={epochs}"))
    (folder / ".hydra" / "overrides.yaml").write_text("[]\n")
    (folder / "run.json").write_text(json.dumps({"command": "python main.py", "seed": 0}))  # it recorded itself
    if status in ("finished", "pruned"):
        metrics = {"val": {"accuracy": val, "loss": 0.3}, "test": {"accuracy": test, "loss": 0.35},
                   "epochs_run": epochs if status == "finished" else 1, "best_epoch": 1}
        if status == "pruned":
            metrics = {"val": {"accuracy": val}, "epochs_run": 1, "pruned_at_epoch": 1}
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if status in ("finished", "pruned", "interrupted"):
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "state.json").write_text(json.dumps({"last_epoch": 1, "best_epoch": 1}))
    moment = time.time() - 1000 + started
    os.utime(folder / ".hydra" / "overrides.yaml", (moment, moment))
    return folder


@pytest.fixture
def place(tmp_path):
    results, data = tmp_path / "results", tmp_path / "data"
    runs = {
        "finished": make(results / "mlp" / "digits" / "2026-11-01_10-00-00", "optimizer.lr=0.01", started=1),
        "better": make(results / "cnn" / "digits" / "2026-11-02_10-00-00", "model=cnn", val=0.97, test=0.96,
                       started=2),
        "interrupted": make(results / "mlp" / "digits" / "2026-11-03_10-00-00", status="interrupted", started=3),
        "failed": make(results / "mlp" / "digits" / "2026-11-04_10-00-00", status="failed", started=4),
        "pruned": make(results / "sweeps" / "mlp_digits" / "0", "optimizer.lr=0.1", status="pruned", val=0.5,
                       started=5),
    }
    (runs["finished"] / "evaluate" / "2026-11-05_10-00-00" / ".hydra").mkdir(parents=True)  # a job inside a run
    (results / "multirun" / "2026-11-06_10-00-00" / "0").mkdir(parents=True)  # holds nothing
    outside = tmp_path / "outside"
    make(outside / "victim", status="failed")  # a failed run outside results/: clean must not touch it
    (results / "mlp" / "digits" / "hostile").symlink_to(outside / "victim", target_is_directory=True)
    (data / "digits").mkdir(parents=True)
    (data / "digits" / "manifest.json").write_text("{}")
    (data / ".synthetic-abc.x1y2").mkdir()  # a killed preparation's staging folder
    return {"results": results, "data": data, "outside": outside, **runs}


def listed(place, capsys, *args):
    assert main(["--results-dir", str(place["results"]), "list", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_shows_every_run_with_status_differences_and_metrics(place, capsys):
    table = listed(place, capsys)
    assert [(row["folder"], row["status"]) for row in table] == [
        ("mlp/digits/2026-11-01_10-00-00", "finished"), ("cnn/digits/2026-11-02_10-00-00", "finished"),
        ("mlp/digits/2026-11-03_10-00-00", "interrupted"), ("mlp/digits/2026-11-04_10-00-00", "failed"),
        ("sweeps/mlp_digits/0", "pruned")]  # the symbolic link is not followed, the evaluate job is not a run
    assert table[1]["model"] == "cnn" and table[0]["val_accuracy"] == 0.9 and table[1]["test_accuracy"] == 0.96
    assert "optimizer.lr" in table[0] and table[0]["optimizer.lr"] == 0.01  # differs between runs: shown
    assert "trainer.batch_size" not in table[0]  # the same everywhere: not shown
    assert table[0]["epochs"] == "3/3" and table[2]["epochs"] == "1/3"

    assert [row["status"] for row in listed(place, capsys, "status=finished", "model=mlp")] == ["finished"]
    assert len(listed(place, capsys, "since=2026-01-01")) == 5 and listed(place, capsys, "since=2999-01-01") == []
    assert [row["folder"] for row in listed(place, capsys, "optimizer.lr=0.1")] == ["sweeps/mlp_digits/0"]
    best_first = listed(place, capsys, "--sort", "val_accuracy")
    assert [row["val_accuracy"] for row in best_first][:3] == [0.97, 0.9, 0.5]


@pytest.mark.parametrize("form", ["table", "csv", "markdown"])
def test_list_formats(place, capsys, form):
    assert main(["--results-dir", str(place["results"]), "list", "--format", form]) == 0
    out = capsys.readouterr().out
    if form == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert len(rows) == 5 and rows[1]["model"] == "cnn" and rows[1]["val_accuracy"] == "0.97"
    elif form == "markdown":
        assert out.splitlines()[0].startswith("| folder | model | dataset |") and len(out.splitlines()) == 7
    else:
        assert "5 runs" in out and "interrupted" in out and "cnn" in out


def test_bad_filters_and_sorts_are_one_line(place, capsys):
    for args, expected in ((["status=done"], "status='done' is invalid"), (["since=yesterday"], "since='yesterday'"),
                           (["--sort", "nosuch"], "--sort nosuch: not a column"), (["lr"], "filter 'lr' is not")):
        assert main(["--results-dir", str(place["results"]), "list", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0]
    # a filter no run matches: an empty table, whatever it is sorted by (no metric to check the name against)
    assert main(["--results-dir", str(place["results"]), "list", "model=nosuch", "--sort", "val_accuracy"]) == 0
    assert "0 runs" in capsys.readouterr().out


def test_compare_shows_config_and_metric_differences(place, capsys):
    assert main(["compare", str(place["finished"]), str(place["better"])]) == 0
    out = capsys.readouterr().out
    assert "model._target_: models.MLP -> models.CNN" in out and "optimizer.lr: 0.01 -> 0.001" in out
    assert "val_accuracy: 0.9 -> 0.97 +0.07" in out
    assert main(["compare", str(place["finished"]), str(place["outside"])]) == 2
    assert "is not a training run's folder" in capsys.readouterr().err


def test_clean_is_a_dry_run_until_yes_and_removes_exactly_the_right_folders(place, capsys):
    before = sorted(str(p) for p in place["results"].parent.rglob("*"))
    assert main(["--results-dir", str(place["results"]), "--data-dir", str(place["data"]), "clean"]) == 0
    plan = capsys.readouterr().out
    assert sorted(str(p) for p in place["results"].parent.rglob("*")) == before  # a dry run touches nothing
    assert "dry run" in plan
    assert main(["--results-dir", str(place["results"]), "--data-dir", str(place["data"]), "clean", "--yes"]) == 0
    removed = capsys.readouterr().out
    for name in ("interrupted", "failed"):
        assert f"removed {place[name]} ({name})" in removed and not place[name].exists()
    assert not (place["results"] / "multirun").exists()  # held no file at all: removed
    assert not (place["data"] / ".synthetic-abc.x1y2").exists() and (place["data"] / "digits").exists()
    for name in ("finished", "better", "pruned"):  # never a finished or pruned run
        assert (place[name] / "metrics.json").exists()
    assert (place["outside"] / "victim" / ".hydra" / "config.yaml").exists()  # not through the hostile link
    assert (place["results"] / "mlp" / "digits" / "hostile").is_symlink()
