"""The model registry, the base model's shared behaviour, and the two models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conf.errors import UserError
from models import CNN, MLP, MODELS, RNN, VAE, BaseModel, ResNet, Transformer, build_model, model_class
from models.base_model import learning_rate_at
from tests.conftest import compose_config


def test_registry_finds_every_model_file():
    assert MODELS == {"cnn": CNN, "mlp": MLP, "resnet": ResNet, "rnn": RNN, "transformer": Transformer, "vae": VAE}
    assert issubclass(MLP, BaseModel) and MLP.name() == "mlp"
    assert model_class("cnn") is CNN
    with pytest.raises(UserError, match="unknown model 'unet'; known models: cnn, mlp, resnet, rnn, transformer, vae"):
        model_class("unet")


def test_only_registered_targets_are_built():
    cfg = compose_config()
    cfg.model._target_ = "os.system"
    with pytest.raises(UserError, match="model._target_='os.system' is not a registered model"):
        build_model(cfg)


def test_learning_rate_schedules():
    cfg = compose_config("optimizer.lr=0.1", "optimizer.schedule=cosine", "optimizer.warmup_epochs=1",
                         "optimizer.min_lr_ratio=0.1").optimizer
    assert learning_rate_at(0, cfg, 12) == pytest.approx(0.05)  # warm-up
    assert learning_rate_at(1, cfg, 12) == pytest.approx(0.1)
    assert learning_rate_at(6, cfg, 12) == pytest.approx(0.055)  # half-way down the cosine
    assert learning_rate_at(11, cfg, 12) == pytest.approx(0.01)  # the last epoch reaches the floor
    assert learning_rate_at(5, compose_config("optimizer.lr=0.1").optimizer, 11) == pytest.approx(0.1)


@pytest.mark.parametrize("overrides", [["model=mlp"], ["model=cnn", "model.filters=4", "model.dense_units=8"]])
def test_predict_single_element_and_batch(overrides):
    model = build_model(compose_config(*overrides))
    single = model.predict(np.zeros((8, 8, 1)))
    batch = model.predict(np.zeros((3, 8, 8, 1)))
    assert single.shape == (10,) and batch.shape == (3, 10)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(single, batch[0], rtol=1e-5)
    with pytest.raises(UserError, match=r"input shape \(3, 7\) does not match the model: expected \(8, 8, 1\)"):
        model.predict(np.zeros((3, 7)))


def test_cnn_refuses_flat_inputs():
    with pytest.raises(UserError, match="model=cnn needs image-shaped inputs"):
        build_model(compose_config("model=cnn", "dataset.input_shape=[64]"))


def test_fit_writes_checkpoints_and_they_restore_weights_and_optimizer(tmp_path, digits_data):
    from data.pipeline import evaluation_batches, split_source, steps_per_epoch, training_batches
    from data.prepare import read_manifest
    from runs.stages.train import run_callbacks

    cfg = compose_config("trainer.epochs=4", "trainer.keep_checkpoints=2", "model.hidden_units=[16]")
    BaseModel.seed_everything(0, deterministic=True)
    model = build_model(cfg)
    traces = counted_traces(model.network)
    folder = digits_data / "digits"
    train, val = (split_source(folder, read_manifest(folder), split, cfg.dataset) for split in ("train", "val"))
    history = model.fit(training_batches(train, 32, 0, 0, 4), evaluation_batches(val, 32),
                        steps_per_epoch=steps_per_epoch(train.count, 32),
                        callbacks=run_callbacks(cfg, tmp_path))
    assert len(history["loss"]) == 4 and history["loss"][-1] < history["loss"][0]
    # each step traced once: the compiled metrics exist before the first trace (build_compiled_state)
    assert traces == {"train_step": 1, "test_step": 1}
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    saved = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    kept = sorted({3, 4, state["best_epoch"]})  # the 2 newest and the best, never pruned
    assert saved == [*(f"epoch_{n}.keras" for n in kept), "state.json"]
    assert state["last_epoch"] == 4 and state["monitor"] == "val_loss"
    assert state["best_value"] == pytest.approx(min(history["val_loss"]))
    assert state["best_epoch"] == 1 + history["val_loss"].index(min(history["val_loss"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "history.csv", "train", "validation"]

    restored = build_model(cfg)
    restored_traces = counted_traces(restored.network)
    restored.load_checkpoint(tmp_path / "checkpoints" / "epoch_4.keras")
    for a, b in zip(model.network.get_weights(), restored.network.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(restored.network.optimizer.iterations) == int(model.network.optimizer.iterations) > 0
    assert restored.evaluate(evaluation_batches(val, 32)) == pytest.approx(model.evaluate(evaluation_batches(val, 32)))
    assert restored_traces == {"train_step": 0, "test_step": 1}


def counted_traces(network) -> dict[str, int]:
    """How many times Keras traces the network's train and test steps from now on (a Python call of a step is a
    trace: the compiled function runs the graph after that)."""
    counts = {"train_step": 0, "test_step": 0}

    def counting(name):
        step = getattr(network, name)

        def traced(data):
            counts[name] += 1
            return step(data)

        return traced

    for name in counts:
        setattr(network, name, counting(name))
    return counts


def test_missing_or_corrupt_checkpoints_are_user_errors(tmp_path):
    model = build_model(compose_config("model.hidden_units=[8]"))
    with pytest.raises(UserError, match="does not exist"):
        model.load_checkpoint(tmp_path / "nope.keras")
    (tmp_path / "bad.keras").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot be loaded into MLP"):
        model.load_checkpoint(tmp_path / "bad.keras")
    model.network.save(str(tmp_path / "good.keras"))
    with pytest.raises(UserError, match="cannot be loaded into CNN"):
        build_model(compose_config("model=cnn")).load_checkpoint(tmp_path / "good.keras")


def test_a_terminal_gets_a_progress_bar_per_epoch_and_a_log_file_one_line(caplog):
    """EpochLogger: the bar (drawn on the console it is given, else on stderr when that is a terminal)."""
    import io
    import logging

    import keras
    from rich.console import Console

    from runs.stages.epoch_logger import EpochLogger

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with caplog.at_level(logging.INFO, logger="train"):
        model.fit(np.zeros((64, 4)), np.zeros((64, 2)), batch_size=16, epochs=2, verbose=0,
                  callbacks=[EpochLogger(2, steps=4, console=console)])
    drawn = screen.getvalue()
    assert "epoch 1/2" in drawn and "4/4" in drawn and "loss=" in drawn  # steps, counts, running loss
    # the train logger's records only: TensorFlow may warn of retracing after other tests' fits in this process
    assert [record.getMessage().split(" loss=")[0] for record in caplog.records
            if record.name == "train"] == ["epoch 1/2", "epoch 2/2"]
    assert EpochLogger(2).show_progress is False  # pytest's stderr is no terminal: the line only


def test_the_confusion_matrix_calls_the_network_once_per_chunk_of_one_shape():
    """`outputs` runs eagerly: the test split's batches are joined (up to a chunk, within one shape) and
    classify as they did one by one."""
    import tensorflow as tf

    from runs.stages.train import classified_test_split

    calls = []

    class Classifier:
        def outputs(self, x):
            calls.append(tuple(x.shape))
            return {"class": tf.cast(tf.reduce_sum(x, axis=1) > 2, "int64")}

    rng = np.random.default_rng(0)
    batches = [(tf.constant(rng.random((n, width)), "float32"), tf.constant(rng.integers(0, 2, n)))
               for n, width in ((4, 5), (4, 5), (3, 5), (4, 7), (2, 7))]  # padded lengths of two buckets
    labels, predicted = classified_test_split(Classifier(), batches, chunk=8)
    assert calls == [(8, 5), (3, 5), (6, 7)]  # the chunk is full after two batches; a new shape starts a call
    expected = np.concatenate([(tf.reduce_sum(x, axis=1) > 2).numpy() for x, _ in batches])
    assert np.array_equal(predicted, expected.astype("int64"))
    assert np.array_equal(labels, np.concatenate([y.numpy() for _, y in batches]))

    class NoClass:
        def outputs(self, x):
            return {"reconstruction": x}

    assert classified_test_split(NoClass(), batches) is None
