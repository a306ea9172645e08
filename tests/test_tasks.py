"""Tasks beyond classification, preprocessing and augmentation as configuration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data.prepare import load_split, prepare_dataset
from tests.conftest import compose_config, read_metrics, run_folders, run_main, serve_exported

def _last_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_regression_trains_evaluates_infers_and_exports_in_raw_units(tmp_path):
    args = ["dataset=diabetes", "model.hidden_units=[32]", "trainer.epochs=8", "optimizer.lr=0.01"]
    assert run_main(tmp_path, *args).returncode == 0
    [run] = run_folders(tmp_path, "mlp", "diabetes")
    metrics = read_metrics(run)
    assert set(metrics["test"]) == {"loss", "mae", "rmse"}
    assert metrics["test"]["mae"] < 80  # the targets span 25..346: a model in raw units, not a constant 0
    record = json.loads((run / "preprocessing.json").read_text())
    assert record["normalize"] == "standardize" and len(record["feature_mean"]) == 10
    assert 140 < record["target_mean"][0] < 170

    evaluated = _last_json(run_main(tmp_path, *args, "stage=evaluate", "run=latest"))
    assert evaluated["test"]["mae"] == pytest.approx(metrics["test"]["mae"], rel=1e-5)

    x, y = load_split(tmp_path / "data" / "diabetes", "test")
    np.save(tmp_path / "patients.npy", x[:5])
    inferred = _last_json(run_main(tmp_path, *args, "stage=infer", "run=latest", f"input={tmp_path / 'patients.npy'}"))
    values = [p["values"][0] for p in inferred["predictions"]]
    assert all(20 < v < 400 for v in values)
    assert np.abs(np.array(values) - y[:5, 0]).mean() < 120

    exported = _last_json(run_main(tmp_path, *args, "stage=export", "run=latest"))
    served = serve_exported(tmp_path, exported["saved_model"], x[:5])  # raw inputs in, raw values out
    assert set(served) == {"values"}
    np.testing.assert_allclose(np.array(served["values"])[:, 0], values, rtol=1e-4, atol=1e-3)


def test_multilabel_reports_auc_f1_and_labels_above_the_threshold(tmp_path):
    args = ["dataset=multilabel", "dataset.num_samples=400", "model.hidden_units=[32]", "trainer.epochs=6",
            "optimizer.lr=0.01"]
    assert run_main(tmp_path, *args).returncode == 0
    [run] = run_folders(tmp_path, "mlp", "multilabel")
    metrics = read_metrics(run)
    assert set(metrics["val"]) == {"loss", "auc", "binary_accuracy", "f1"} and metrics["val"]["auc"] > 0.6
    [folder] = (tmp_path / "data").glob("multilabel-*")
    x, y = load_split(folder, "test")
    assert y.shape[1:] == (5,) and y.dtype == np.uint8
    np.save(tmp_path / "docs.npy", x[:4])
    strict = _last_json(run_main(tmp_path, *args, "stage=infer", "run=latest", f"input={tmp_path / 'docs.npy'}",
                                 "stage.threshold=0.9"))
    exported = _last_json(run_main(tmp_path, *args, "stage=export", "run=latest"))  # labels at 0.5
    served = serve_exported(tmp_path, exported["saved_model"], x[:4])
    for tight, probabilities, flags in zip(strict["predictions"], served["probabilities"], served["labels"]):
        assert len(tight["probabilities"]) == 5
        np.testing.assert_allclose(probabilities, tight["probabilities"], atol=1e-4)
        assert tight["labels"] == [i for i, p in enumerate(tight["probabilities"]) if p >= 0.9]
        assert [i for i, flag in enumerate(flags) if flag] == [i for i, p in enumerate(probabilities) if p >= 0.5]
        assert set(tight["labels"]) <= {i for i, flag in enumerate(flags) if flag}


def test_standardisation_statistics_come_from_the_train_split_only(tmp_path):
    cfg = compose_config("dataset=wine").dataset
    folder = prepare_dataset(cfg, tmp_path)
    stats = json.loads((folder / "manifest.json").read_text())["stats"]
    train, _ = load_split(folder, "train")
    everything = np.concatenate([load_split(folder, split)[0] for split in ("train", "val", "test")])
    np.testing.assert_allclose(stats["feature_mean"], train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["feature_std"], train.std(axis=0), rtol=1e-4)
    # where it matters: the splits differ, so statistics of all examples would leak val and test
    assert not np.allclose(stats["feature_mean"], everything.mean(axis=0), rtol=1e-4)


def test_augmentation_is_a_pure_function_of_seed_epoch_and_batch(tmp_path):
    from data.pipeline import training_batches
    from data.preprocessing import Preprocessing
    from tests.test_pipeline import shards

    x = np.random.default_rng(0).integers(0, 256, (24, 8, 8, 1)).astype("uint8")
    plain = shards(tmp_path / "plain", x, np.arange(24), per_shard=10, cache="memory")
    augment = ({"name": "flip", "mode": "horizontal"}, {"name": "translate", "factor": 0.2},
               {"name": "rotate", "factor": 0.1}, {"name": "contrast", "factor": 0.3}, {"name": "crop", "padding": 2})
    import dataclasses

    source = dataclasses.replace(plain, augment=augment, preprocessing=Preprocessing("none", 1.0))
    full = [b[0].numpy() for b in training_batches(source, 8, seed=5, first_epoch=0, epochs=3)]
    again = [b[0].numpy() for b in training_batches(source, 8, seed=5, first_epoch=0, epochs=3)]
    resumed = [b[0].numpy() for b in training_batches(source, 8, seed=5, first_epoch=1, epochs=3)]
    for a, b in zip(full, again):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(full[3:], resumed):
        np.testing.assert_array_equal(a, b)
    unaugmented = [b[0].numpy() for b in training_batches(dataclasses.replace(source, augment=()), 8, 5, 0, 3)]
    assert all(not np.array_equal(a, b) for a, b in zip(full, unaugmented))
    assert all(a.min() >= 0 and a.max() <= 255 and a.shape == (8, 8, 8, 1) for a in full)
    other_seed = [b[0].numpy() for b in training_batches(source, 8, seed=6, first_epoch=0, epochs=1)]
    assert not np.array_equal(other_seed[0], full[0])


def test_a_horizontal_flip_mirrors_about_half_the_images(tmp_path):
    from data.pipeline import augmentation

    images = np.random.default_rng(1).uniform(0, 255, (200, 6, 6, 1)).astype("float32")
    flipped = augmentation(({"name": "flip", "mode": "horizontal"},), (6, 6, 1))(images, np.array([1, 2])).numpy()
    mirrored = [np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, images)]
    unchanged = [np.array_equal(f, i) for f, i in zip(flipped, images)]
    assert all(m or u for m, u in zip(mirrored, unchanged)) and 70 < sum(mirrored) < 130
