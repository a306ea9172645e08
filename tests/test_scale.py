"""The training core at scale: memory flat in the dataset's size, image folders, mixed precision, XLA,
several devices, and out-of-memory as one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conf.errors import UserError
from data.prepare import load_split, prepare_dataset
from tests.conftest import PROJECT_ROOT, compose_config, read_metrics, run_folders, run_main


def write_images(root: Path, classes: dict[str, int], size=(10, 12), mode="RGB", seed=0) -> None:
    """`classes[name]` PNG images per class, each class a different mean colour (learnable)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    for index, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = np.clip(rng.normal(40 + 80 * index, 20, (*size, channels)), 0, 255).astype("uint8")
            Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(root / name / f"{i}.png")


IMAGE_ARGS = ["model=mlp", "dataset=image_folder", "dataset.num_classes=3", "dataset.input_shape=[8,8,3]",
              "model.hidden_units=[16]", "trainer.epochs=25", "trainer.batch_size=8", "optimizer.lr=0.01"]


def test_an_image_folder_trains_evaluates_and_infers_an_image_file(tmp_path):
    images = tmp_path / "flowers"
    write_images(images, {"daisy": 12, "rose": 12, "tulip": 12})
    args = [*IMAGE_ARGS, f"dataset.path={images}"]
    result = run_main(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    [run] = run_folders(tmp_path, "mlp", "image_folder")
    metrics = read_metrics(run)
    assert sum(json.loads(p.read_text())["splits"][s]["count"]
               for p in (tmp_path / "data").glob("image_folder-*/manifest.json") for s in ("train", "val", "test")) == 36
    [manifest] = [json.loads(p.read_text()) for p in (tmp_path / "data").glob("image_folder-*/manifest.json")]
    assert manifest["class_names"] == ["daisy", "rose", "tulip"] and manifest["record"]["format"] == "image_paths"
    assert metrics["test"]["accuracy"] >= 0.6  # three colours: easy once resized and scaled
    inferred = run_main(tmp_path, "stage=infer", "run=latest", *args, f"input={images / 'tulip' / '3.png'}")
    assert inferred.returncode == 0, inferred.stderr
    [prediction] = json.loads(inferred.stdout.strip().splitlines()[-1])["predictions"]
    assert len(prediction["probabilities"]) == 3 and prediction["class"] == 2
    broken = run_main(tmp_path, "stage=infer", "run=latest", *args, f"input={tmp_path / 'missing.png'}")
    assert broken.returncode == 2 and broken.stderr.strip() == f"error: input={tmp_path / 'missing.png'}: no such file"


def _image_cfg(path: Path, *overrides: str):
    return compose_config("dataset=image_folder", f"dataset.path={path}", "dataset.num_classes=2",
                          "dataset.input_shape=[8,8,3]", *overrides).dataset


def test_image_folder_mistakes_are_one_line_naming_the_folder_or_file(tmp_path):
    data = tmp_path / "data"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=rf"^{empty} has no class folders"):
        prepare_dataset(_image_cfg(empty), data)
    write_images(tmp_path / "one_empty", {"cat": 3})
    (tmp_path / "one_empty" / "dog").mkdir()
    with pytest.raises(UserError, match=r"one_empty/dog holds no image \(.png, .jpg, .jpeg\)"):
        prepare_dataset(_image_cfg(tmp_path / "one_empty"), data)
    write_images(tmp_path / "broken", {"cat": 3, "dog": 3})
    (tmp_path / "broken" / "dog" / "1.png").write_bytes((tmp_path / "broken" / "dog" / "1.png").read_bytes()[:60])
    with pytest.raises(UserError, match=r"broken/dog/1.png is not a readable image"):
        prepare_dataset(_image_cfg(tmp_path / "broken"), data)
    write_images(tmp_path / "mixed", {"cat": 2})
    write_images(tmp_path / "mixed", {"dog": 2}, mode="L")
    with pytest.raises(UserError, match=r"mixed channel counts: .*cat/0.png has 3, .*dog/0.png has 1"):
        prepare_dataset(_image_cfg(tmp_path / "mixed"), data)
    with pytest.raises(UserError, match=r"dataset.num_classes=3, but .* has 2 class folders \(cat, dog\): set "
                                        r"dataset.num_classes=2"):
        prepare_dataset(_image_cfg(tmp_path / "mixed", "dataset.num_classes=3"), data)
    assert not data.exists() or list(data.iterdir()) == []  # nothing prepared, nothing half-written


def test_an_image_folder_with_its_own_splits_keeps_them(tmp_path):
    root = tmp_path / "split"
    write_images(root / "train", {"cat": 10, "dog": 10})
    write_images(root / "test", {"cat": 3, "dog": 2})
    folder = prepare_dataset(_image_cfg(root, "dataset.test_fraction=null"), tmp_path / "data")
    paths, labels = load_split(folder, "test")
    assert len(paths) == 5 and all("/test/" in p for p in paths) and labels.tolist() == [0, 0, 0, 1, 1]
    assert len(load_split(folder, "val")[1]) == 4 and len(load_split(folder, "train")[1]) == 16
    with pytest.raises(UserError, match=r"has an official test split; set it to null"):
        prepare_dataset(_image_cfg(root), tmp_path / "other")


def test_bfloat16_with_xla_trains_and_its_checkpoint_continues_in_float32(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    args = ["model.hidden_units=[32]", "trainer.epochs=2"]
    result = run_main(tmp_path, *args, "trainer.precision=mixed_bfloat16", "trainer.jit_compile=true")
    assert result.returncode == 0, result.stderr
    [run] = run_folders(tmp_path)
    assert read_metrics(run)["val"]["accuracy"] > 0.5 and np.isfinite(read_metrics(run)["val"]["loss"])
    branch = run_main(tmp_path, f"run={run}", "checkpoint=last", "trainer.epochs=3", "trainer.precision=float32",
                      "trainer.jit_compile=false")
    assert branch.returncode == 0, branch.stderr
    assert read_metrics(max(run_folders(tmp_path)))["epochs_run"] == 3


def test_mirrored_over_two_logical_cpus_and_its_checkpoint_on_one_device(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "model.hidden_units=[32]", "trainer.epochs=2", "trainer.batch_size=128",
                      "optimizer.lr=0.01", "trainer.distribute=mirrored", "trainer.devices=[/cpu:0,/cpu:1]")
    assert result.returncode == 0, result.stderr
    assert "mirrored over 2 replicas: /cpu:0, /cpu:1" in result.stderr
    [run] = run_folders(tmp_path)
    assert read_metrics(run)["val"]["accuracy"] > 0.5
    single = run_main(tmp_path, f"run={run}", "checkpoint=last", "trainer.epochs=3", "trainer.distribute=none",
                      "trainer.devices=null")
    assert single.returncode == 0, single.stderr  # a mirrored run's checkpoint goes on on one device
    assert read_metrics(max(run_folders(tmp_path)))["epochs_run"] == 3
    refused = run_main(tmp_path, "trainer.distribute=mirrored", "trainer.devices=[/gpu:3]")
    assert refused.returncode == 2 and refused.stderr.startswith("error: trainer.devices=['/gpu:3']: no device /gpu:3")
    assert len(run_folders(tmp_path)) == 2  # the refused job left no folder


def test_a_model_too_large_for_memory_is_one_line_and_leaves_no_run(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run_main(tmp_path, "model.hidden_units=[1048576,1048576]", "trainer.epochs=1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: out of memory building or training model=MLP with trainer.batch_size=32: reduce "
        "trainer.batch_size or the model's size")
    assert "Traceback" not in result.stderr and run_folders(tmp_path) == []


PEAK_RSS = """
import resource, subprocess, sys
for command in sys.argv[1:]:
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_rss_kib(*commands: str) -> int:
    """Peak resident memory of the largest of `commands`, run one after the other in a fresh process."""
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, *commands], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=400)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_memory_does_not_grow_with_the_dataset(tmp_path):
    """8x the examples (5 MB -> 41 MB of features) costs no more than a few MB of peak memory, to
    prepare the dataset and to train on it."""
    peaks = {"prepare": {}, "train": {}}
    for samples in (20_000, 160_000):
        prepare = (f"{sys.executable} -m data.prepare synthetic num_samples={samples} input_shape=[64] noise=4 "
                   f"--data-dir {tmp_path / 'data'}")
        peaks["prepare"][samples] = _peak_rss_kib(prepare)
        # training in a child of the test server: its peak counts the server's pages too, the same for both sizes
        train = run_main(tmp_path, "dataset=synthetic", f"dataset.num_samples={samples}", "dataset.input_shape=[64]",
                         "dataset.noise=4", "dataset.cache=none", "model.hidden_units=[8]", "trainer.epochs=1",
                         "trainer.batch_size=1024")
        assert train.returncode == 0, train.stderr
        peaks["train"][samples] = train.peak_rss_kib
    for step, peak in peaks.items():
        growth_mb = (peak[160_000] - peak[20_000]) / 1024
        # held in memory, the 140,000 extra examples would take 36 MB at least once (3 copies before)
        assert growth_mb < 24, (step, peaks)


def test_checkpoints_load_across_precisions_both_ways(tmp_path):
    """mixed_float16 wraps the optimizer for loss scaling; the weights still cross over."""
    import keras

    from models import build_model

    cfg = compose_config("model.hidden_units=[8]", "dataset.input_shape=[64]")
    try:
        for saved_in, loaded_in in (("float32", "mixed_float16"), ("mixed_float16", "float32")):
            keras.mixed_precision.set_global_policy(saved_in)
            saved = build_model(cfg)
            path = tmp_path / f"{saved_in}.keras"
            saved.network.save(str(path))
            keras.mixed_precision.set_global_policy(loaded_in)
            loaded = build_model(cfg)
            assert loaded.network.outputs[0].dtype == "float32"  # logits stay float32
            loaded.load_checkpoint(path)
            for a, b in zip(saved.network.trainable_weights, loaded.network.trainable_weights):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    finally:
        keras.mixed_precision.set_global_policy("float32")
