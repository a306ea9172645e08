"""`python main.py` as a user runs it: run folders, multirun, determinism, adding a model."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml

from tests.conftest import PROJECT_ROOT, read_metrics, run_folders, run_main

FAST = ["trainer.epochs=3", "model.hidden_units=[32]"]


def _returned_metric(run_dir) -> float:
    match = re.search(r"val_accuracy=([0-9.e-]+) \(optimized_metric", (run_dir / "main.log").read_text())
    assert match, "main.log does not report the returned metric"
    return float(match.group(1))


def _tensorboard_scalars(log_dir) -> dict[str, int]:
    """Each scalar's name in a TensorBoard log folder, with the number of distinct steps logged."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: len({event.step for event in events.Tensors(tag)}) for tag in events.Tags()["tensors"]}


def test_train_run_folder_holds_everything(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, *FAST, "seed=null")
    assert result.returncode == 0, result.stderr
    [run_dir] = run_folders(tmp_path)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", run_dir.name)
    names = {p.name for p in run_dir.iterdir()}
    assert {".hydra", "main.log", "metrics.json", "run.json", "history.csv", "model_summary.txt",
            "checkpoints", "train", "validation"} <= names
    assert _tensorboard_scalars(run_dir / "train") == {
        "epoch_loss": 3, "epoch_accuracy": 3, "epoch_learning_rate": 3}
    assert {"epoch_loss": 3, "epoch_accuracy": 3}.items() <= _tensorboard_scalars(run_dir / "validation").items()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "epoch_1.keras", "epoch_2.keras", "epoch_3.keras", "state.json"]

    metrics = read_metrics(run_dir)
    assert set(metrics) == {"train", "val", "test", "epochs_run", "best_epoch", "seed", "fit_time_s",
                            "wall_time_s"}
    assert metrics["epochs_run"] == 3 and 1 <= metrics["best_epoch"] <= 3
    assert 0.5 < metrics["val"]["accuracy"] <= 1 and metrics["test"]["loss"] > 0
    assert abs(_returned_metric(run_dir) - metrics["val"]["accuracy"]) < 1e-5

    # seed=null drew a seed, and the run's config, run.json and metrics.json all record it
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    assert isinstance(config["seed"], int) and config["seed"] == run["seed"] == metrics["seed"]
    assert run["command"].endswith(f"seed={config['seed']}") and "seed=null" not in run["command"]
    # and that seed repeats the run: the same metrics, to the last digit (timings aside)
    again = run_main(tmp_path, *FAST, f"seed={config['seed']}")
    assert again.returncode == 0, again.stderr
    first, second = (read_metrics(folder) for folder in run_folders(tmp_path))
    for timings in (first, second):
        del timings["wall_time_s"], timings["fit_time_s"]
    assert first == second
    assert run["versions"]["tensorflow"].startswith("2.")
    assert "Dense" in (run_dir / "model_summary.txt").read_text()
    assert "epoch 3/3" in (run_dir / "main.log").read_text()
    # pictures: learning curves, and the confusion matrix of the test split, as real PNG files
    from PIL import Image

    for picture in ("learning_curves.png", "confusion_matrix.png"):
        with Image.open(run_dir / picture) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 300
    assert "config" in result.stderr and "hidden_units: [32]" in result.stderr  # the printed config tree

    # README's "Using a trained model from Python": the best checkpoint reproduces the test accuracy
    from omegaconf import OmegaConf

    from data.prepare import load_split
    from models import build_model

    model = build_model(OmegaConf.load(run_dir / ".hydra" / "config.yaml"))
    model.load_checkpoint(run_dir / "checkpoints" / f"epoch_{metrics['best_epoch']}.keras")
    x, y = load_split(tmp_path / "data" / "digits", "test", [8, 8, 1])
    accuracy = float((model.predict(x / 16.0).argmax(axis=1) == y).mean())
    assert abs(accuracy - metrics["test"]["accuracy"]) < 1e-6
    assert model.predict(x[0] / 16.0).shape == (10,)


def test_multirun_sweeps_every_combination(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "-m", "trainer.epochs=1", "model.hidden_units=[16]", "optimizer.lr=1e-3,1e-2")
    assert result.returncode == 0, result.stderr
    [sweep_dir] = list((tmp_path / "results" / "multirun").iterdir())
    assert (sweep_dir / "multirun.yaml").is_file()
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    learning_rates = [yaml.safe_load((job / ".hydra" / "config.yaml").read_text())["optimizer"]["lr"] for job in jobs]
    assert learning_rates == [1e-3, 1e-2]
    assert all(read_metrics(job)["epochs_run"] == 1 for job in jobs)


def test_a_batch_larger_than_the_train_split_trains_and_says_so(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "trainer.epochs=1", "model.hidden_units=[8]", "trainer.batch_size=5000")
    assert result.returncode == 0, result.stderr
    [run_dir] = (tmp_path / "results" / "mlp" / "digits").iterdir()
    train = json.loads(next((tmp_path / "data").glob("digits*/manifest.json")).read_text())["splits"]["train"]
    assert (f"trainer.batch_size=5000 is larger than the {train['count']} examples of the train split: each epoch "
            f"is one batch of {train['count']}") in result.stderr
    assert read_metrics(run_dir)["epochs_run"] == 1


def fenced_block_after(text: str, phrase: str, language: str) -> str:
    """The first fenced block of that language after the phrase, as the page shows it."""
    start = text.index(f"```{language}\n", text.index(phrase)) + len(f"```{language}\n")
    return text[start:text.index("```\n", start)]


def test_a_new_model_is_one_python_file_and_one_yaml_file(tmp_path, digits_data):
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT, project, ignore=shutil.ignore_patterns(
        ".git", ".venv", "results", "tests", "__pycache__", "benchmarks", "digits", "synthetic*"))
    # README's "Adding a model" and "Adding a dataset", dropped in as written there: the model file and its YAML,
    # and a dataset with a config key of its own (every stage on its runs works: evaluate re-reads the run's
    # config with the dataset's schema)
    readme = (PROJECT_ROOT / "README.md").read_text()
    for phrase, path in (("`models/logistic.py`", "models/logistic.py"),
                         ("`data/datasets/moons.py`", "data/datasets/moons.py")):
        (project / path).write_text(fenced_block_after(readme, phrase, "python"))
    for phrase, path in (("and `conf/model/logistic.yaml`", "conf/model/logistic.yaml"),
                         ("and `conf/dataset/moons.yaml`", "conf/dataset/moons.yaml")):
        (project / path).write_text(fenced_block_after(readme, phrase, "yaml"))
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "model=logistic", "trainer.epochs=4", "optimizer.lr=0.01", main=project / "main.py")
    assert result.returncode == 0, result.stderr
    [run_dir] = run_folders(tmp_path, model="logistic")
    assert read_metrics(run_dir)["val"]["accuracy"] > 0.8
    bad = run_main(tmp_path, "model=logistic", "model.l2=abc", main=project / "main.py")
    assert bad.returncode == 2 and bad.stderr.startswith("error: model.l2: ")
    negative = run_main(tmp_path, "model=logistic", "model.l2=-1", main=project / "main.py")
    assert negative.returncode == 2 and negative.stderr.strip() == "error: model.l2=-1.0 is invalid: must be >= 0"
    args = ["dataset=moons", "dataset.noise=0.15", "trainer.epochs=15", "optimizer.lr=0.01"]
    trained = run_main(tmp_path, *args, main=project / "main.py")
    assert trained.returncode == 0, trained.stderr
    [moons_run] = run_folders(tmp_path, model="mlp", dataset="moons")
    assert read_metrics(moons_run)["test"]["accuracy"] > 0.85
    evaluated = run_main(tmp_path, *args, "stage=evaluate", "run=latest", main=project / "main.py")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout.strip().splitlines()[-1])["test"]["accuracy"] == pytest.approx(
        read_metrics(moons_run)["test"]["accuracy"], abs=1e-6)
    bad = run_main(tmp_path, "dataset=moons", "dataset.noise=-1", main=project / "main.py")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: dataset.noise=-1.0 is invalid: must be >= 0"

    # the docs' network with its own training step, dropped in as written there, on the digits without labels
    guide = (PROJECT_ROOT / "docs" / "models.md").read_text()
    (project / "models" / "autoencoder.py").write_text(
        fenced_block_after(guide, "`models/autoencoder.py`, a denoising autoencoder", "python"))
    (project / "conf" / "model" / "autoencoder.yaml").write_text(
        "defaults:\n  - /schema/model/autoencoder@_here_\n  - _self_\n\n"
        "_target_: models.Autoencoder\ncode: 16\nnoise: 0.2\n")
    args = ["model=autoencoder", "dataset.task=unsupervised", "trainer.monitor=val_reconstruction_error"]
    trained = run_main(tmp_path, *args, "trainer.epochs=3", main=project / "main.py")
    assert trained.returncode == 0, trained.stderr
    [autoencoder_run] = run_folders(tmp_path, model="autoencoder")
    metrics = read_metrics(autoencoder_run)
    assert set(metrics["test"]) == {"loss", "reconstruction_error"} and metrics["test"]["reconstruction_error"] < 0.1
    inferred = run_main(tmp_path, *args, "stage=infer", "run=latest", f"input={json.dumps([[0.0] * 64])}",
                        main=project / "main.py")
    assert inferred.returncode == 0, inferred.stderr
    [prediction] = json.loads(inferred.stdout.strip().splitlines()[-1])["predictions"]
    assert np.shape(prediction["reconstruction"]) == (8, 8, 1) and len(prediction["code"]) == 16
