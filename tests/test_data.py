"""Dataset preparation: split folders, determinism, idempotence and clear failures (no TensorFlow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conf.errors import ConfigError, UserError
from data.prepare import SPLITS, load_split, main, prepare_dataset, prepared_dir
from tests.conftest import compose_config


def test_digits_prepare_writes_stratified_deterministic_splits(tmp_path):
    cfg = compose_config().dataset
    folder = prepare_dataset(cfg, tmp_path)
    assert folder == tmp_path / "digits"
    counts = {split: len(load_split(folder, split, cfg.input_shape)[1]) for split in SPLITS}
    assert sum(counts.values()) == 1797
    assert 250 <= counts["val"] <= 290 and 250 <= counts["test"] <= 290
    x, y = load_split(folder, "test", cfg.input_shape)
    assert x.shape[1:] == (8, 8, 1) and x.dtype == np.uint8 and x.max() == 16
    assert set(np.unique(y)) == set(range(10))  # every class in every split
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["splits"]["train"]["count"] == counts["train"]
    again = prepare_dataset(cfg, tmp_path / "other")
    for split in SPLITS:
        assert (again / split / "x.npy").read_bytes() == (folder / split / "x.npy").read_bytes()


def test_prepare_is_idempotent(tmp_path):
    cfg = compose_config().dataset
    folder = prepare_dataset(cfg, tmp_path)
    stamp = (folder / "train" / "x.npy").stat().st_mtime_ns
    assert prepare_dataset(cfg, tmp_path) == folder
    assert (folder / "train" / "x.npy").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["digits"]  # no temporary folder left


def test_the_same_files_serve_any_shape_with_as_many_values(tmp_path):
    folder = prepare_dataset(compose_config().dataset, tmp_path)
    flat = compose_config("dataset.input_shape=[64]").dataset
    assert prepare_dataset(flat, tmp_path) == folder
    assert load_split(folder, "val", flat.input_shape)[0].shape[1:] == (64,)


def test_wrong_number_of_values_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset.input_shape=\[7\] is invalid: digits examples have 64 values"):
        prepare_dataset(compose_config("dataset.input_shape=[7]").dataset, tmp_path)
    assert not (tmp_path / "digits").exists()


def test_a_different_split_of_a_prepared_folder_is_refused(tmp_path):
    prepare_dataset(compose_config().dataset, tmp_path)
    with pytest.raises(UserError, match=r"val_fraction=0.2 \(prepared: 0.15\).*--force"):
        prepare_dataset(compose_config("dataset.val_fraction=0.2").dataset, tmp_path)


def test_a_hand_edited_manifest_is_refused(tmp_path):
    folder = prepare_dataset(compose_config().dataset, tmp_path)
    (folder / "manifest.json").write_text("{ not json")
    with pytest.raises(UserError, match="no readable manifest.json"):
        prepare_dataset(compose_config().dataset, tmp_path)


def test_synthetic_folders_differ_by_generation_parameters(tmp_path):
    small = compose_config("dataset=synthetic", "dataset.num_samples=200").dataset
    other_seed = compose_config("dataset=synthetic", "dataset.num_samples=200", "dataset.seed=1").dataset
    assert prepared_dir(small, tmp_path) != prepared_dir(other_seed, tmp_path)
    assert prepared_dir(small, tmp_path) == prepared_dir(
        compose_config("dataset=synthetic", "dataset.num_samples=200", "dataset.scale=2").dataset, tmp_path)
    folder = prepare_dataset(small, tmp_path)
    x, y = load_split(folder, "train", small.input_shape)
    assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1)
    assert sum(len(load_split(folder, s, small.input_shape)[1]) for s in SPLITS) == 200


def test_cli_prepares_lists_and_reports_errors(tmp_path, capsys):
    assert main(["digits", "--data-dir", str(tmp_path)]) == 0
    assert "digits: prepared" in capsys.readouterr().out
    assert main(["digits", "--data-dir", str(tmp_path)]) == 0
    assert "digits: already prepared" in capsys.readouterr().out
    assert main(["--list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "digits" in listing and "prepared," in listing and "synthetic" in listing
    assert main(["mnist-typo", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("error: unknown dataset 'mnist-typo'; "
                                              "known: cifar10, digits, fashion_mnist, mnist, synthetic")
