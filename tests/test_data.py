"""Dataset preparation: split folders, determinism, idempotence and clear failures (no TensorFlow)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conf.errors import ConfigError, UserError
from data.prepare import SPLITS, load_split, main, prepare_dataset, prepared_dir
from tests.conftest import PROJECT_ROOT, compose_config


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
    assert manifest["record"] == {"format": "records", "x_dtype": "uint8", "x_shape": [8, 8], "y_dtype": "int64",
                                  "y_shape": [], "record_bytes": 72}
    again = prepare_dataset(cfg, tmp_path / "other")
    for split in SPLITS:
        assert (again / split / "shard-00000.rec").read_bytes() == (folder / split / "shard-00000.rec").read_bytes()


def test_prepare_is_idempotent(tmp_path):
    cfg = compose_config().dataset
    folder = prepare_dataset(cfg, tmp_path)
    stamp = (folder / "train" / "shard-00000.rec").stat().st_mtime_ns
    assert prepare_dataset(cfg, tmp_path) == folder
    assert (folder / "train" / "shard-00000.rec").stat().st_mtime_ns == stamp
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
                                              "known: cifar10, diabetes, digit_features, digits, fashion_mnist, huggingface, "
                                              "image_folder, imdb, mnist, multilabel, synthetic, text_file, "
                                              "text_folder, tfds, topics, waves, wine")
    (tmp_path / "a_file").write_text("")
    assert main(["--list", "--data-dir", str(tmp_path / "a_file")]) == 2  # as the form that prepares refuses it
    assert capsys.readouterr().err.strip() == (f"error: data_dir={tmp_path / 'a_file'} is a file, not a folder: "
                                              "give a folder for prepared datasets")
    assert main([]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: name a dataset to prepare (python -m data.prepare digits), or pass --list to see them all"]


def test_a_large_dataset_is_written_in_several_shards_in_constant_chunks(tmp_path, monkeypatch):
    import data.shards

    monkeypatch.setattr(data.shards, "SHARD_BYTES", 40 * 1024)  # about 150 examples of 64 floats a shard
    cfg = compose_config("dataset=synthetic", "dataset.num_samples=3000", "dataset.input_shape=[64]").dataset
    folder = prepare_dataset(cfg, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    train = manifest["splits"]["train"]
    assert len(train["shards"]) > 10 and sum(s["count"] for s in train["shards"]) == train["count"]
    assert sum(manifest["splits"][s]["count"] for s in SPLITS) == 3000
    assert all((folder / s["file"]).stat().st_size == s["bytes"] == s["count"] * 264 for s in train["shards"])
    x, y = load_split(folder, "train")
    assert x.shape == (train["count"], 64) and x.dtype == np.float32 and y.dtype == np.int64
    # the same examples whatever the shard size: generation and split do not depend on it
    monkeypatch.setattr(data.shards, "SHARD_BYTES", 64 << 20)
    x2, y2 = load_split(prepare_dataset(cfg, tmp_path / "one"), "train")
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_prepared_folders_are_ordinary_folders_whatever_the_temporary_name(tmp_path):
    folder = prepare_dataset(compose_config().dataset, tmp_path)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_old_npy_folder_is_refused_with_the_command_to_redo_it(tmp_path):
    folder = tmp_path / "digits"
    (folder / "train").mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"name": "digits", "splits": {}}))
    with pytest.raises(UserError, match=r"prepared by an older version.*python -m data.prepare digits --force"):
        prepare_dataset(compose_config().dataset, tmp_path)


def test_a_dataset_that_cannot_fit_the_disk_is_refused_before_writing(tmp_path):
    cfg = compose_config("dataset=synthetic", "dataset.num_samples=100000000000", "dataset.input_shape=[784]").dataset
    with pytest.raises(UserError, match=r"dataset synthetic needs about 3.2\de\+14 GB|needs about .* GB in .* free: "
                                        r"reduce the dataset"):
        prepare_dataset(cfg, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_while_preparing_is_one_line_and_leaves_nothing(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: every write past 200 kB fails as it would on ENOSPC."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
            "from data.prepare import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "synthetic", "num_samples=5000", "input_shape=[64]",
                             "--data-dir", str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: the disk is full while preparing ") and "free some space" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no staging folder, no half-written shard


def test_cli_takes_the_overrides_training_takes(tmp_path, capsys):
    assert main(["synthetic", "num_samples=300", "dataset.noise=0.5", "--data-dir", str(tmp_path)]) == 0
    cfg = compose_config("dataset=synthetic", "dataset.num_samples=300", "dataset.noise=0.5").dataset
    assert f"synthetic: prepared {prepared_dir(cfg, tmp_path)}" in capsys.readouterr().out
    assert main(["synthetic", "num_sample=300", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: dataset.num_sample: unknown key; allowed: name, source, input_shape")
    (tmp_path / "a_file").write_text("x")
    assert main(["digits", "--data-dir", str(tmp_path / "a_file")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: data_dir={tmp_path / 'a_file'} is a file, not a folder: "
                                              "give a folder for prepared datasets")
