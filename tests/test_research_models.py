"""Researchers' own models through every stage: the Keras guide's VAE (only a `train_step`), a GAN with two
networks and two optimizers, a network whose own step must survive every precision and task, and the
one-line errors of models that do not fit (tests/research_models/)."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import compose_config, read_metrics, run_main, serve_exported
from tests.test_resume import comparable_metrics, scalar_series

pytestmark = pytest.mark.xdist_group("research_models")  # one worker: the module's runs are made once

VAE = ["model=guide_vae", "dataset.task=unsupervised", "trainer.epochs=3", "seed=5", "trainer.keep_checkpoints=1"]
GAN = ["model=gan", "dataset.task=unsupervised", "trainer.epochs=3", "seed=5", "trainer.monitor=val_g_loss",
       "trainer.keep_checkpoints=1"]
# two inputs, two outputs, streamed from the shards and the image feature augmented
TWO = ["model=two_branch", "dataset=digit_features", "trainer.epochs=3", "seed=5", "trainer.keep_checkpoints=1",
       "dataset.cache=none", "dataset.shuffle_window=300", "dataset.augment=[{name:translate,factor:0.1}]"]
ARGS = {"guide_vae": VAE, "gan": GAN, "two_branch": TWO}
DATASETS = {"guide_vae": "digits", "gan": "digits", "two_branch": "digit_features"}
# a kill inside an epoch's steps, one after its validation, one while the best checkpoint is evaluated
CHAIN = [("batch", 2), ("validated", 2), ("evaluating", 0)]
STEPS = 40  # training batches an epoch: 1,257 training digits at batch 32


def run(workdir, *args, **kwargs):
    return run_main(workdir, *args, research_models=True, **kwargs)


def json_stdout(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, digits_data):
    work = tmp_path_factory.mktemp("research")
    shutil.copytree(digits_data, work / "data")
    return work


@pytest.fixture(scope="module")
def trained(workdir) -> dict:
    """One uninterrupted run of each model."""
    runs = {}
    for name, args in ARGS.items():
        result = run(workdir, *args)
        assert result.returncode == 0, result.stderr
        [runs[name]] = (workdir / "results" / name / DATASETS[name]).iterdir()
    return runs


def test_the_guides_vae_trains_and_validates_with_its_own_step(trained):
    vae = trained["guide_vae"]
    metrics = read_metrics(vae)
    for split in ("train", "val", "test"):
        assert set(metrics[split]) == {"loss", "reconstruction_loss", "kl_loss"}
        parts = metrics[split]["reconstruction_loss"] + metrics[split]["kl_loss"]
        assert metrics[split]["loss"] == pytest.approx(parts, rel=1e-5)
    with open(vae / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    assert [row["epoch"] for row in history] == ["1", "2", "3"]
    assert float(history[-1]["val_reconstruction_loss"]) < float(history[0]["val_reconstruction_loss"])  # it learns
    series = scalar_series(vae)
    assert {("validation", "epoch_kl_loss"), ("train", "epoch_reconstruction_loss")} <= set(series)
    # validation ran the train_step with the optimizer switched off: the optimizer took the training steps only
    steps = [step for step, _ in series[("validation", "evaluation_loss_vs_iterations")]]
    assert steps == [STEPS, 2 * STEPS, 3 * STEPS]
    # Keras cannot serialise the guide's VAE (its __init__ takes models): its checkpoints hold the weights
    [checkpoint] = (vae / "checkpoints").glob("epoch_*.keras")
    with zipfile.ZipFile(checkpoint) as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "model.weights.h5"]
    assert json.loads((vae / "checkpoints" / "state.json").read_text())["monitor"] == "val_loss"
    assert (vae / "learning_curves.png").is_file() and not (vae / "confusion_matrix.png").exists()


def test_the_gan_steps_both_optimizers_and_is_checkpointed_by_its_own_metric(trained):
    gan = trained["gan"]
    metrics = read_metrics(gan)
    assert set(metrics["val"]) == {"d_loss", "g_loss"}
    state = json.loads((gan / "checkpoints" / "state.json").read_text())
    with open(gan / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    values = [float(row["val_g_loss"]) for row in history]
    assert state["monitor"] == "val_g_loss" and state["best_epoch"] == 1 + values.index(min(values))  # declared: min
    series = scalar_series(gan)
    assert [step for step, _ in series[("validation", "evaluation_g_loss_vs_iterations")]] == [STEPS, 2 * STEPS,
                                                                                               3 * STEPS]


@pytest.mark.parametrize("name", ["guide_vae", "gan", "two_branch"])
def test_a_run_killed_at_any_moment_resumes_to_the_uninterrupted_run(workdir, trained, name):
    """Every network, both optimizers and the noise of a seeded generator carry on exactly."""
    results, folder = f"killed_{name}", None
    for point, epoch in CHAIN:
        start = ARGS[name] if folder is None else [f"run={folder}"]
        killed = run(workdir, *start, f"results_dir={results}", fault={"point": point, "epoch": epoch})
        assert killed.returncode == -9, (point, killed.stderr)
        [folder] = (workdir / results / name / DATASETS[name]).iterdir()
    resumed = run(workdir, f"run={folder}", f"results_dir={results}")
    assert resumed.returncode == 0, resumed.stderr
    assert comparable_metrics(folder) == comparable_metrics(trained[name])
    assert (folder / "history.csv").read_text() == (trained[name] / "history.csv").read_text()
    assert scalar_series(folder) == scalar_series(trained[name])


def test_evaluate_infer_and_export_serve_what_the_model_names(workdir, trained):
    vae = trained["guide_vae"]
    evaluated = json_stdout(run(workdir, "stage=evaluate", "model=guide_vae", "run=latest"))
    metrics = read_metrics(vae)
    for split in ("val", "test"):  # the noise starts afresh for an evaluation: the same numbers as training's
        assert evaluated[split] == pytest.approx(metrics[split], rel=1e-6)
    from data.prepare import load_split

    x, _ = load_split(workdir / "data" / "digits", "test", [8, 8, 1])
    inferred = json_stdout(run(workdir, "stage=infer", f"run={vae}", f"input={json.dumps(x[:2].tolist())}"))
    first = inferred["predictions"][0]
    assert set(first) == {"reconstruction", "latent_mean"} and len(first["latent_mean"]) == 2
    reconstruction = np.array(first["reconstruction"])
    assert reconstruction.shape == (8, 8, 1) and 0 <= reconstruction.min() and reconstruction.max() <= 16  # raw units
    exported = json_stdout(run(workdir, "stage=export", f"run={vae}"))
    served = serve_exported(workdir, exported["saved_model"], x[:2].astype("float32"))
    np.testing.assert_allclose(served["reconstruction"][0], reconstruction, atol=1e-4)
    np.testing.assert_allclose(served["latent_mean"][1], inferred["predictions"][1]["latent_mean"], atol=1e-4)

    gan = trained["gan"]
    realness = json_stdout(run(workdir, "stage=infer", f"run={gan}", f"input={json.dumps(x[:1].tolist())}"))
    exported = json_stdout(run(workdir, "stage=export", f"run={gan}"))
    served = serve_exported(workdir, exported["saved_model"], x[:1].astype("float32"))
    np.testing.assert_allclose(served["realness"][0], realness["predictions"][0]["realness"], atol=1e-4)  # (1,)


def test_two_inputs_and_two_outputs_through_every_stage(workdir, trained):
    run_dir = trained["two_branch"]
    metrics = read_metrics(run_dir)
    assert set(metrics["test"]) == {"loss", "digit_loss", "digit_accuracy", "ink_loss", "ink_mae", "ink_rmse"}
    assert metrics["test"]["digit_accuracy"] > 0.3 and metrics["test"]["ink_mae"] < 0.6  # ink: 4.9 +- 0.54
    # the total is weighted by the ink target's loss_weight (Keras averages each over batches its own way: ~0.5 %)
    val = metrics["val"]
    assert val["loss"] == pytest.approx(val["digit_loss"] + 0.5 * val["ink_loss"], rel=1e-2)
    assert abs(val["loss"] - val["digit_loss"] - 0.5 * val["ink_loss"]) < 0.1 * val["ink_loss"]
    evaluated = json_stdout(run(workdir, "stage=evaluate", f"run={run_dir}"))
    assert evaluated["test"] == pytest.approx(metrics["test"], rel=1e-6)
    from data.prepare import load_split

    [folder] = (workdir / "data").glob("digit_features-*")
    x, y = load_split(folder, "test")
    elements = [{"image": x["image"][i].tolist(), "strokes": x["strokes"][i].tolist()} for i in range(2)]
    inline = "[" + ", ".join(f"{{image: {json.dumps(e['image'])}, strokes: {json.dumps(e['strokes'])}}}"
                             for e in elements) + "]"  # Hydra's grammar: keys unquoted
    inferred = json_stdout(run(workdir, "stage=infer", f"run={run_dir}", f"input={inline}"))
    first = inferred["predictions"][0]
    assert set(first) == {"digit_probabilities", "digit_class", "ink_values"}
    assert sum(first["digit_probabilities"]) == pytest.approx(1, abs=1e-5) and 3 < first["ink_values"][0] < 7
    (workdir / "one.json").write_text(json.dumps(elements[1]))  # one element, from a file
    single = json_stdout(run(workdir, "stage=infer", f"run={run_dir}", f"input={workdir / 'one.json'}"))
    assert single["predictions"] == inferred["predictions"][1:]
    exported = json_stdout(run(workdir, "stage=export", f"run={run_dir}"))
    served = serve_exported(workdir, exported["saved_model"], {name: x[name][:2].astype("float32")
                                                               for name in ("image", "strokes")})
    assert served["digit_class"] == [p["digit_class"] for p in inferred["predictions"]]
    np.testing.assert_allclose(served["ink_values"], [p["ink_values"] for p in inferred["predictions"]], atol=1e-4)
    (workdir / "missing.json").write_text(json.dumps({"image": elements[0]["image"]}))
    missing = run(workdir, "stage=infer", f"run={run_dir}", f"input={workdir / 'missing.json'}")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines()[-1] == (
        "error: input element 0 has no strokes; the model takes a JSON object with image, strokes (one element) or a "
        "list of such objects")
    wrong = run(workdir, "stage=infer", f"run={run_dir}", "input=-",
                stdin=json.dumps({**elements[0], "strokes": [1, 2]}))
    assert wrong.returncode == 2 and "input feature strokes: input has shape [2]; the model takes elements of " \
        "shape [4]" in wrong.stderr


def test_a_sweep_searches_the_models_own_metric_in_its_own_space(workdir, trained, capsys):
    result = run(workdir, "-m", *VAE[:2], "trainer.epochs=2", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=3",
                 "hydra.sweeper.plots=false", "hydra/sweeper/pruner=none", "optimized_metric=val_kl_loss",
                 "results_dir=swept")
    assert result.returncode == 0, result.stderr
    assert "maximizing" not in result.stderr  # a declared "min" metric is minimised without a warning
    [sweep] = (workdir / "swept" / "sweeps").iterdir()
    with open(sweep / "trials.csv") as handle:
        trials = list(csv.DictReader(handle))
    assert [trial["state"] for trial in trials] == ["COMPLETE"] * 3
    assert {"model.latent_dim", "optimizer.lr"} <= set(trials[0])  # the model's own search space
    for trial in trials:
        assert float(trial["value"]) == pytest.approx(read_metrics(sweep / trial["number"])["val"]["kl_loss"])
    import yaml

    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(float(trial["value"]) for trial in trials))
    from runs.__main__ import main as runs_cli

    assert runs_cli(["--results-dir", str(workdir / "swept"), "list", "--sort", "val_kl_loss", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["val_kl_loss"] for row in listed] == sorted(float(trial["value"]) for trial in trials)


def test_declared_metrics_decide_their_direction_by_the_declaration():
    from conf.schema import metric_mode, minimized

    assert metric_mode("val_sharpness", {"sharpness": "max"}) == "max"
    assert not minimized("test_sharpness", {"sharpness": "max"})
    assert metric_mode("val_recall_loss", {"recall_loss": "max"}) == "max"  # the declaration wins over the name
    assert metric_mode("val_kl_loss", {}) == "min" and metric_mode("val_mae") == "min" and metric_mode("f1") == "max"


@pytest.mark.parametrize(("args", "message"), [
    (["model=guide_vae"], "dataset.task='classification' is invalid: model tests.research_models.guide_vae.GuideVAE "
                          "trains on unsupervised: add dataset.task=unsupervised (the labels are not used)"),
    ([*VAE[:2], "trainer.monitor=val_sharpness"], "trainer.monitor='val_sharpness' is invalid: task unsupervised and "
     "model tests.research_models.guide_vae.GuideVAE report val_loss, val_reconstruction_loss, val_kl_loss, loss, "
     "reconstruction_loss, kl_loss"),
    ([*VAE[:2], "optimized_metric=val_accuracy"], "optimized_metric='val_accuracy' is invalid: task unsupervised and "
     "model tests.research_models.guide_vae.GuideVAE report train_loss, "),
    (["model=broken", "model.fault=not_a_model"], "tests/research_models/broken.py: Broken.build_network returned "
     "Dense; it must return a keras.Model (functional, Sequential, or a subclass with its own call or train_step)"),
    (["model=broken", "model.fault=tensor_step"], "tests/research_models/broken.py: Stepper.train_step returned "
     "SymbolicTensor; it must return a dict of scalar metrics, e.g. {'loss': loss}"),
    (["model=broken", "model.fault=vector_metric"], "tests/research_models/broken.py: Stepper.train_step returned "
     "'per_output' of shape [10]; every value of its dict must be a scalar"),
    (["model=broken", "model.fault=missing_metric"], "Broken.reported_metrics needs sharpness, but "
     "tests/research_models/broken.py reported loss, val_loss in its first epoch"),
    (["model=broken", "model.fault=compile_arguments"], "tests/research_models/broken.py: Stepper.compile takes other "
     "arguments"),
    (["model=broken", "model.fault=unbuilt_optimizer"], "tests/research_models/broken.py: optimizer other_optimizer of "
     "Stepper is not built after Broken.compile_network"),
    (["model=gan", "dataset.task=unsupervised"], "trainer.monitor needs val_loss, but tests/research_models/gan.py "
     "reported d_loss, g_loss, val_d_loss, val_g_loss in its first epoch"),
    (["dataset=digit_features"], "model MLP (models/mlp.py) takes one input and one output; dataset digit_features "
     "has named features image, strokes: use a model that declares named_inputs = True and named_outputs = True"),
    (["model=two_branch", "dataset=digit_features", "trainer.monitor=val_accuracy"], "trainer.monitor='val_accuracy' "
     "is invalid: dataset.targets digit, ink report val_loss, val_digit_loss, val_digit_accuracy, val_ink_loss, "
     "val_ink_mae, val_ink_rmse"),
    (["model=two_branch"], "model TwoBranch (tests/research_models/two_branch.py) takes named features; dataset "
     "digits has none: use a dataset with dataset.features (e.g. dataset=digit_features)"),
])
def test_a_model_that_does_not_fit_stops_with_one_line_and_leaves_nothing(tmp_path, digits_data, args, message):
    shutil.copytree(digits_data, tmp_path / "data")
    result = run(tmp_path, *args, "trainer.epochs=1")
    assert result.returncode == 2, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: {message}"), line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def test_a_bug_in_a_model_is_one_line_naming_its_file_and_leaves_nothing(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    earlier = run(tmp_path, "trainer.epochs=1", "model.hidden_units=[8]")
    assert earlier.returncode == 0, earlier.stderr
    [kept] = (tmp_path / "results" / "mlp" / "digits").iterdir()
    result = run(tmp_path, "model=broken", "model.fault=raises", "trainer.epochs=1")
    assert result.returncode == 1
    from tests.research_models import broken

    line = 1 + Path(broken.__file__).read_text().splitlines().index(
        '    raise ValueError(f"a researcher\'s bug: cannot reshape {tuple(x.shape)} into (3, 3)")')
    assert result.stderr.splitlines()[-1] == (
        f"error: tests/research_models/broken.py, line {line}, in raise_shape_error: ValueError: a researcher's bug: "
        "cannot reshape (None, 8, 8, 1) into (3, 3) (HYDRA_FULL_ERROR=1 shows the traceback)")
    assert "Traceback" not in result.stderr
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["mlp"] and kept.is_dir()  # the earlier run stays
    full = run(tmp_path, "model=broken", "model.fault=raises", "trainer.epochs=1", env={"HYDRA_FULL_ERROR": "1"})
    assert full.returncode == 1 and "Traceback" in full.stderr and "raise_shape_error" in full.stderr
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["mlp"]


TASK_DATASETS = {"classification": ["dataset=digits"], "unsupervised": ["dataset=digits", "dataset.task=unsupervised"],
                 "regression": ["dataset=diabetes"], "multilabel": ["dataset=multilabel"]}


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_a_networks_own_step_runs_under_every_precision_and_task(precision):
    """The step of the network's class is what trains and validates, wrapped by nothing."""
    import keras
    import tensorflow as tf

    from models.base_model import BaseModel
    from runs.devices import configure_devices

    class OwnStep(BaseModel):
        tasks = tuple(TASK_DATASETS)
        reported_metrics = {"own_step": "max"}

        def build_network(self, input_shape, num_outputs):
            class Network(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.body = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                                  keras.layers.Dense(num_outputs)])
                    self.tracker = keras.metrics.Mean(name="loss")

                def call(self, x):
                    return self.body(x)

                def train_step(self, data):
                    x = data[0] if isinstance(data, tuple) else data
                    with tf.GradientTape() as tape:
                        loss = keras.ops.mean(keras.ops.square(keras.ops.cast(self(x), "float32")))
                    self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_weights),
                                                       self.trainable_weights))
                    self.tracker.update_state(loss)
                    return {"loss": self.tracker.result(), "own_step": keras.ops.ones(())}

            return Network()

    try:
        for task, dataset in TASK_DATASETS.items():
            config = compose_config(*dataset, f"trainer.precision={precision}", "trainer.epochs=1")
            configure_devices(config.trainer)
            model = OwnStep(config)
            assert type(model.network).__name__ == "Network" and model.own_step
            assert not isinstance(model.network.optimizer, keras.optimizers.LossScaleOptimizer)
            x = np.random.default_rng(0).random((16, *config.dataset.input_shape), dtype="float32")
            data = tf.data.Dataset.from_tensor_slices(x if task == "unsupervised" else (x, np.zeros(16, "int64")))
            history = model.fit(data.batch(8), data.batch(8), steps_per_epoch=2)
            assert history["own_step"] == [1.0] and history["val_own_step"] == [1.0], (task, history)
            assert int(model.network.optimizer.iterations) == 2, task  # validation stepped no optimizer
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_subclass_with_its_own_call_gets_the_task_head_under_mixed_precision():
    import keras

    from models.base_model import BaseModel
    from runs.devices import configure_devices

    class Called(BaseModel):
        def build_network(self, input_shape, num_outputs):
            class Network(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.flatten, self.dense = keras.layers.Flatten(), keras.layers.Dense(num_outputs)

                def call(self, x):
                    return self.dense(self.flatten(x))

            return Network()

    config = compose_config("trainer.precision=mixed_float16")
    try:
        configure_devices(config.trainer)
        model = Called(config)
        assert not model.own_step and model.network.outputs[0].dtype == "float32"  # the head's cast
        assert model.predict(np.zeros((2, 8, 8, 1))).shape == (2, 10)
    finally:
        keras.mixed_precision.set_global_policy("float32")
