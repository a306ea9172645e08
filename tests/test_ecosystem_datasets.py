"""Datasets of TensorFlow Datasets and Hugging Face `datasets`, built here by the real libraries from data
the test makes (no network, no mock): a TFDS folder written by `store_as_tfds_dataset`, a `save_to_disk`
folder of images and a parquet table. Each is trained on through `main.py`; the TFDS run is killed and
resumed, evaluated, inferred from and exported after its TFDS copy is gone (a run needs only its records
and the prepared shards)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from tests.conftest import read_metrics, run_main, serve_exported
from tests.test_resume import comparable_metrics, scalar_series

pytestmark = pytest.mark.xdist_group("ecosystem")  # one worker: the module's datasets and runs are made once

SMALL = ["model=mlp", "model.hidden_units=[16]", "trainer.batch_size=64", "optimizer.lr=0.01",
         "trainer.keep_checkpoints=1", "seed=5"]
TFDS = [*SMALL, "trainer.epochs=3", "dataset=tfds", "dataset.name=tiny_digits"]
CHAIN = [("batch", 1), ("evaluating", 0)]  # inside an epoch, and after training (tests/test_resume.py: every moment)
CLASSES = [f"digit_{i}" for i in range(10)]


def digits():
    """scikit-learn's 1,797 8x8 digits as uint8 pixels (0..255) and labels."""
    from sklearn.datasets import load_digits

    loaded = load_digits()
    return np.round(loaded.images * 255 / 16).astype("uint8"), loaded.target.astype("int64")


def hf_cache(workdir) -> dict:
    """The environment of a main.py child whose `datasets` cache (of converted data files) stays in the test."""
    return {"HF_HOME": str(workdir / "hf_home")}


def json_stdout(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_config(run) -> dict:
    return yaml.safe_load((run / ".hydra" / "config.yaml").read_text())["dataset"]


def manifest_of(workdir, prefix: str) -> dict:
    [folder] = (workdir / "data").glob(f"{prefix}-*")
    return json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("ecosystem")


@pytest.fixture(scope="module")
def tfds_dir(workdir):
    """`tiny_digits` 1.0.0 in a TFDS folder of its own: an 8x8x1 Image, a ClassLabel with names, and a Text id
    (which the input choice passes over for the image), in TFDS's train and test splits."""
    import tensorflow_datasets as tfds

    images, labels = digits()
    features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(8, 8, 1)),
                                           "label": tfds.features.ClassLabel(names=CLASSES),
                                           "id": tfds.features.Text()})

    def split(indices):
        return [(str(i), {"image": images[i][..., None], "label": int(labels[i]), "id": f"#{i}"}) for i in indices]

    root = workdir / "tfds"
    tfds.dataset_builders.store_as_tfds_dataset("tiny_digits", "1.0.0", features, {
        "train": split(range(1400)), "test": split(range(1400, 1797))}, data_dir=str(root), disable_shuffling=True)
    return root


@pytest.fixture(scope="module")
def tfds_run(workdir, tfds_dir):
    result = run_main(workdir, *TFDS, f"dataset.tfds_dir={tfds_dir}")
    assert result.returncode == 0, result.stderr
    [run] = (workdir / "results" / "mlp" / "tfds").iterdir()
    return run


def test_a_tfds_builder_trains_with_its_features_class_names_version_and_splits(workdir, tfds_dir, tfds_run):
    dataset = run_config(tfds_run)  # what the builder said, pinned in the run's config
    assert {key: dataset[key] for key in ("name", "source", "version", "feature", "label", "input_shape", "task",
                                          "num_classes", "scale", "test_fraction")} == {
        "name": "tiny_digits", "source": "tfds", "version": "1.0.0", "feature": "image", "label": "label",
        "input_shape": [8, 8, 1], "task": "classification", "num_classes": 10, "scale": 255.0, "test_fraction": None}
    manifest = manifest_of(workdir, "tfds-tiny_digits")
    assert manifest["class_names"] == CLASSES
    assert manifest["prepare"] == f"python -m data.prepare tfds name=tiny_digits tfds_dir={tfds_dir}"
    external = manifest["external"]
    assert (external["library"], external["builder"], external["version"], external["splits"]) == (
        "tensorflow_datasets", "tiny_digits/1.0.0", "1.0.0", {"train": 1400, "test": 397})
    assert external["data_dir"] == str(tfds_dir / "tiny_digits" / "1.0.0")
    counts = {split: entry["count"] for split, entry in manifest["splits"].items()}
    assert counts["test"] == 397 and counts["train"] + counts["val"] == 1400 and 130 <= counts["val"] <= 150
    from data.prepare import load_split

    [folder] = (workdir / "data").glob("tfds-tiny_digits-*")
    x, y = load_split(folder, "test")
    images, labels = digits()
    np.testing.assert_array_equal(x.reshape(-1, 8, 8), images[1400:])  # TFDS's test split, in its order
    np.testing.assert_array_equal(y, labels[1400:])
    assert read_metrics(tfds_run)["test"]["accuracy"] > 0.6  # it learns the digits (chance: 0.1)


def test_a_tfds_run_killed_at_any_moment_resumes_to_the_uninterrupted_run(workdir, tfds_dir, tfds_run):
    results, folder = "killed", None
    for point, epoch in CHAIN:
        start = [*TFDS, f"dataset.tfds_dir={tfds_dir}"] if folder is None else [f"run={folder}"]
        killed = run_main(workdir, *start, f"results_dir={results}", fault={"point": point, "epoch": epoch})
        assert killed.returncode == -9, (point, killed.stderr)
        [folder] = (workdir / results / "mlp" / "tfds").iterdir()
    resumed = run_main(workdir, f"run={folder}", f"results_dir={results}")
    assert resumed.returncode == 0, resumed.stderr
    assert comparable_metrics(folder) == comparable_metrics(tfds_run)
    assert (folder / "history.csv").read_text() == (tfds_run / "history.csv").read_text()
    assert scalar_series(folder) == scalar_series(tfds_run)


def test_a_tfds_run_is_evaluated_inferred_and_exported_without_its_tfds_copy(workdir, tfds_dir, tfds_run):
    from data.prepare import load_split

    [folder] = (workdir / "data").glob("tfds-tiny_digits-*")
    x, _ = load_split(folder, "test")
    gone = workdir / "tfds_moved_away"
    tfds_dir.rename(gone)
    try:
        evaluated = json_stdout(run_main(workdir, "stage=evaluate", f"run={tfds_run}"))
        assert evaluated["test"] == pytest.approx(read_metrics(tfds_run)["test"], rel=1e-6)
        elements = x[:3].reshape(3, 8, 8, 1)
        inferred = json_stdout(run_main(workdir, "stage=infer", f"run={tfds_run}",
                                        f"input={json.dumps(elements.tolist())}"))["predictions"]
        assert [p["class"] for p in inferred] == [int(np.argmax(p["probabilities"])) for p in inferred]
        exported = json_stdout(run_main(workdir, "stage=export", f"run={tfds_run}"))
        served = serve_exported(workdir, exported["saved_model"], elements.astype("float32"))
        assert served["class"] == [p["class"] for p in inferred]
        np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in inferred], atol=1e-5)
    finally:
        gone.rename(tfds_dir)
    # with neither the copy nor the prepared shards, evaluate says where it looked (no builder code makes it again)
    moved = workdir / "data_moved_away"
    (workdir / "data").rename(moved)
    tfds_dir.rename(gone)
    try:
        failed = run_main(workdir, "stage=evaluate", f"run={tfds_run}")
        assert failed.returncode == 2 and failed.stderr.strip().splitlines() == [
            f"error: dataset.name=tiny_digits: TensorFlow Datasets has no builder tiny_digits and none is prepared in "
            f"{tfds_dir} (dataset.tfds_dir); did you mean binary_alpha_digits, spoken_digit?"]
    finally:
        gone.rename(tfds_dir)
        moved.rename(workdir / "data")


def test_data_prepare_prepares_a_tfds_builder_and_lists_it(tmp_path, tfds_dir, capsys):
    from data.prepare import main

    assert main(["tfds", "name=tiny_digits:1.0.0", f"tfds_dir={tfds_dir}", "--data-dir", str(tmp_path)]) == 0
    assert "tfds: prepared" in capsys.readouterr().out
    [folder] = tmp_path.glob("tfds-tiny_digits_1.0.0-*")
    assert json.loads((folder / "manifest.json").read_text())["external"]["version"] == "1.0.0"
    assert main(["--list", "--data-dir", str(tmp_path)]) == 0  # each configuration prepared so far, listed
    assert f"               {folder}  prepared, " in capsys.readouterr().out
    assert main(["tfds", "name=tiny_digits:2.0.0", f"tfds_dir={tfds_dir}", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: dataset.name=tiny_digits:2.0.0: TensorFlow Datasets has no "
                                              "builder tiny_digits")
    # its Text feature as the input: a text dataset, tokenized by words (the default tokenizer)
    assert main(["tfds", "name=tiny_digits", f"tfds_dir={tfds_dir}", "feature=id", "--data-dir", str(tmp_path)]) == 0
    [text] = [path for path in tmp_path.glob("tfds-tiny_digits-*")]
    manifest = json.loads((text / "manifest.json").read_text())
    assert manifest["record"]["x_dtype"] == "string" and manifest["stats"]["tokenizer"]["kind"] == "words"


def test_a_tfds_folder_that_names_foreign_feature_classes_is_not_imported(tmp_path, tfds_dir):
    from omegaconf import OmegaConf

    from conf.errors import UserError
    from data.datasets.tfds import builder

    copy = tmp_path / "tfds"
    shutil.copytree(tfds_dir, copy)
    [features] = copy.rglob("features.json")
    features.write_text(features.read_text().replace("tensorflow_datasets.core.features.text_feature.Text",
                                                     "evil_module.Payload"))
    with pytest.raises(UserError, match="names the feature class evil_module.Payload, which is not one of "
                                        "TensorFlow Datasets' own: this project does not import it"):
        builder(OmegaConf.create({"name": "tiny_digits", "tfds_dir": str(copy), "version": None}))


@pytest.fixture(scope="module")
def hf_images(workdir):
    """A DatasetDict saved to disk: 10x10 grey PIL images (digits, padded) with a ClassLabel, train and test."""
    import datasets
    from PIL import Image

    images, labels = digits()
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    features = datasets.Features({"picture": datasets.Image(), "digit": datasets.ClassLabel(names=CLASSES)})

    def part(indices):
        return datasets.Dataset.from_dict({"picture": [Image.fromarray(padded[i], mode="L") for i in indices],
                                           "digit": [int(labels[i]) for i in indices]}, features=features)

    path = workdir / "hf_images"
    datasets.DatasetDict({"train": part(range(1000)), "test": part(range(1000, 1300))}).save_to_disk(str(path))
    return path


def test_a_saved_hugging_face_dataset_of_images_is_resized_and_trained_on(workdir, hf_images):
    result = run_main(workdir, *SMALL, "trainer.epochs=2", "dataset=huggingface", f"dataset.name={hf_images}",
                      "dataset.image_size=[8,8]", env=hf_cache(workdir))
    assert result.returncode == 0, result.stderr
    assert "Generating" not in result.stderr and "[datasets]" not in result.stderr  # no progress bars in the log
    [run] = (workdir / "results" / "mlp" / "huggingface").iterdir()
    dataset = run_config(run)
    assert (dataset["feature"], dataset["label"], dataset["input_shape"], dataset["num_classes"]) == (
        "picture", "digit", [8, 8, 1], 10)
    assert isinstance(dataset["fingerprint"], str) and len(dataset["fingerprint"]) >= 16  # pinned
    manifest = manifest_of(workdir, "huggingface-hf_images")
    assert manifest["class_names"] == CLASSES and manifest["external"]["library"] == "datasets"
    assert manifest["external"]["splits"] == {"train": 1000, "test": 300}
    assert read_metrics(run)["test"]["accuracy"] > 0.3  # resized digits are still learnt (chance: 0.1)


def test_a_parquet_table_trains_and_a_changed_file_is_refused(workdir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    images, labels = digits()
    flat = images.reshape(len(images), -1)[:, :16].astype("float32")
    table = {f"px{i}": flat[:, i] for i in range(16)} | {"target": labels}
    path = workdir / "table.parquet"
    pq.write_table(pa.table(table), path)
    result = run_main(workdir, *SMALL, "trainer.epochs=1", "dataset=huggingface", f"dataset.name={path}",
                      "dataset.label=target", "results_dir=table_results", env=hf_cache(workdir))
    assert result.returncode == 0, result.stderr
    [run] = (workdir / "table_results" / "mlp" / "huggingface").iterdir()
    dataset = run_config(run)
    assert dataset["feature"] == [f"px{i}" for i in range(16)]  # every numeric column but the label: one vector
    assert (dataset["input_shape"], dataset["num_classes"], dataset["test_fraction"]) == ([16], 10, 0.15)
    manifest = manifest_of(workdir, "huggingface-table.parquet")
    assert manifest["class_names"] == [str(i) for i in range(10)]  # integer labels: named by their values
    assert sum(entry["count"] for entry in manifest["splits"].values()) == len(labels)
    from data.prepare import dataset_config, prepare_dataset  # streamed: read in chunks, never loaded whole

    streamed = dataset_config("huggingface", [f"name={path}", "label=target", "streaming=true", "num_classes=10"])
    folder = prepare_dataset(streamed, workdir / "streamed_data")
    counts = {split: entry["count"] for split, entry in json.loads((folder / "manifest.json").read_text())[
        "splits"].items()}
    assert counts == {split: entry["count"] for split, entry in manifest["splits"].items()}  # the same split plan
    pq.write_table(pa.table({**table, "target": (labels + 1) % 10}), path)  # the same place, other data
    refused = run_main(workdir, f"run={run}", "results_dir=table_results", "stage=evaluate", env=hf_cache(workdir))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"error: Hugging Face dataset {path} has changed since this config pinned it: its train split's fingerprint")


def test_named_features_become_named_inputs_and_the_label_a_named_target(tmp_path, hf_images):
    from data.prepare import dataset_config, prepare_dataset

    cfg = dataset_config("huggingface", [f"name={hf_images}", "+dataset.features.picture={}", "image_size=[8,8]"])
    assert OmegaConf_plain(cfg.features) == {"picture": {"shape": [8, 8, 1], "scale": 255.0}}
    assert OmegaConf_plain(cfg.targets) == {"digit": {"task": "classification", "num_classes": 10}}
    folder = prepare_dataset(cfg, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["record"]["format"] == "fields" and manifest["class_names"] == CLASSES
    assert [(f["name"], f["dtype"], f["shape"]) for f in manifest["record"]["features"]] == [("picture", "uint8",
                                                                                              [8, 8, 1])]
    assert [(f["name"], f["dtype"]) for f in manifest["record"]["targets"]] == [("digit", "int64")]


def OmegaConf_plain(node):  # noqa: N802 -- a node as plain Python
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node)


def test_a_sweep_over_a_tfds_dataset_and_its_runs_listed(workdir, tfds_dir, capsys):
    from runs.__main__ import main as runs_main

    swept = run_main(workdir, "-m", *TFDS, f"dataset.tfds_dir={tfds_dir}", "trainer.epochs=1",
                     "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "model.hidden_units=choice([8],[16])",
                     "hydra.sweeper.plots=false", "results_dir=swept")
    assert swept.returncode == 0, swept.stderr
    assert runs_main(["--results-dir", str(workdir / "swept"), "list", "dataset=tfds", "--sort", "val_accuracy",
                      "--format", "csv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 3 and all(",finished," in line for line in listed[1:]), listed


def test_a_tab_separated_file_is_read_by_its_columns(tmp_path):
    from data.prepare import dataset_config, prepare_dataset

    path = tmp_path / "table.tsv"
    path.write_text("width\theight\tlabel\n" + "".join(f"{i}.5\t{2 * i}\t{i % 3}\n" for i in range(60)))
    cfg = dataset_config("huggingface", [f"name={path}"])
    assert (list(cfg.feature), list(cfg.input_shape), cfg.num_classes) == (["width", "height"], [2], 3)
    folder = prepare_dataset(cfg, tmp_path / "data")
    from data.prepare import load_split

    x, y = load_split(folder, "train")
    assert x.shape[1] == 2 and set(np.round(x[:, 1] / 2 - x[:, 0], 1)) == {-0.5} and set(y) == {0, 1, 2}


def test_data_files_name_the_splits_of_a_folder_of_csv_files(tmp_path):
    from data.prepare import dataset_config, prepare_dataset

    folder = tmp_path / "tables"
    folder.mkdir()
    for name, count in (("first.csv", 80), ("second.csv", 30)):
        (folder / name).write_text("x,y,label\n" + "".join(f"{i / 7:.3f},{i % 5},{i % 2}\n" for i in range(count)))
    cfg = dataset_config("huggingface", [f"name={folder}", "data_files={train: first.csv, test: second.csv}"])
    manifest = json.loads((prepare_dataset(cfg, tmp_path / "data") / "manifest.json").read_text())
    assert manifest["external"]["splits"] == {"train": 80, "test": 30}
    assert {split: entry["count"] for split, entry in manifest["splits"].items()} == {"train": 72, "val": 8, "test": 30}
