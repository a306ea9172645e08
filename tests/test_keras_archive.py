"""The checkpoint written from a copy of the values (`runs.keras_archive`) is the file Keras's `model.save` writes.

Compared entry by entry with Keras's own archive (every dataset of `model.weights.h5` and its attributes,
config.json, the files of the zip) for a functional network with Adam, a subclassed network with two
optimizers and no `get_config`, and mixed_float16's loss-scaling optimizer; a network with assets gets
no layout; values changed after the snapshot do not reach the file.
"""

from __future__ import annotations

import io
import zipfile

import h5py
import keras
import numpy as np
import pytest

from runs.atomic_files import save_keras
from runs.keras_archive import ArchiveLayout

X = np.random.default_rng(0).random((32, 6)).astype("float32")
Y = np.random.default_rng(1).integers(0, 3, 32)


def contents(path):
    """{h5 name: array or attributes}, the zip's file names, and config.json (None when absent)."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        found = {}
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            def visit(name, item):
                found[name] = item[()] if isinstance(item, h5py.Dataset) else dict(item.attrs)

            weights.visititems(visit)
        config = archive.read("config.json") if "config.json" in names else None
    return found, names, config


def assert_same_archive(ours, theirs, config=True):
    found, names, configuration = contents(ours)
    expected, expected_names, expected_configuration = contents(theirs)
    assert names == expected_names
    assert sorted(found) == sorted(expected)
    for name, value in expected.items():
        if isinstance(value, dict):
            assert found[name] == value, name
        else:
            assert found[name].dtype == value.dtype and np.array_equal(found[name], value), name
    if config:
        assert configuration == expected_configuration


def functional():
    inputs = keras.Input((6,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(8, activation="relu")(inputs))
    network = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    network.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    return network


class TwoOptimizers(keras.Model):
    """A GAN-shaped subclass: two sub-networks, two optimizers, its own train_step, no get_config."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale  # an argument get_config cannot describe
        self.first = keras.Sequential([keras.layers.Dense(4)])
        self.second = keras.Sequential([keras.layers.Dense(3)])
        self.first_optimizer, self.second_optimizer = keras.optimizers.Adam(1e-3), keras.optimizers.SGD(0.1)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs):
        return self.second(self.first(inputs))

    def train_step(self, data):
        import tensorflow as tf

        inputs, _ = data
        for network, optimizer in ((self.first, self.first_optimizer), (self.second, self.second_optimizer)):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(self(inputs))) * self.scale
            optimizer.apply_gradients(zip(tape.gradient(loss, network.trainable_weights), network.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        raise NotImplementedError("created by passing non-serializable argument values")


def test_a_functional_network_archive_is_keras_own(tmp_path):
    network = functional()
    network.fit(X, Y, epochs=1, verbose=0)
    layout = ArchiveLayout(network)
    assert layout.usable and not layout.outdated(network)
    layout.write(tmp_path / "ours.keras", layout.snapshot())
    save_keras(network, tmp_path / "theirs.keras")
    assert_same_archive(tmp_path / "ours.keras", tmp_path / "theirs.keras")
    loaded = keras.models.load_model(tmp_path / "ours.keras")
    assert np.allclose(loaded.predict(X, verbose=0), network.predict(X, verbose=0))
    assert int(loaded.optimizer.iterations) == int(network.optimizer.iterations) == 1


def test_the_snapshot_is_the_values_of_its_moment_and_the_epoch_rate_comes_back(tmp_path):
    network = functional()
    network.fit(X, Y, epochs=1, verbose=0)
    layout = ArchiveLayout(network)
    network.optimizer.learning_rate.assign(2.5e-4)  # a schedule's rate for the next epoch
    values = layout.snapshot()
    save_keras(network, tmp_path / "then.keras")
    network.fit(X, Y, epochs=2, verbose=0)  # training goes on while the archive is written
    layout.write(tmp_path / "ours.keras", values)
    assert_same_archive(tmp_path / "ours.keras", tmp_path / "then.keras", config=False)
    loaded = keras.models.load_model(tmp_path / "ours.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(2.5e-4)  # from the weights, not config.json


def test_a_subclass_with_two_optimizers_and_no_config_is_weights_only(tmp_path):
    network = TwoOptimizers(2.0)
    network.compile()
    network.fit(X, Y, epochs=1, verbose=0)
    layout = ArchiveLayout(network)
    # its two, and compile()'s default RMSprop, which Keras saves too
    assert layout.usable and layout.config_json is None and len(layout.optimizers) == 3
    layout.write(tmp_path / "ours.keras", layout.snapshot())
    save_keras(network, tmp_path / "theirs.keras")
    found, names, _ = contents(tmp_path / "ours.keras")
    assert names == ["metadata.json", "model.weights.h5"]
    assert_same_archive(tmp_path / "ours.keras", tmp_path / "theirs.keras", config=False)
    again = TwoOptimizers(2.0)
    again.compile()
    again.fit(X[:2], Y[:2], epochs=1, verbose=0)
    again.load_weights(tmp_path / "ours.keras")
    assert np.array_equal(again.predict(X, verbose=0), network.predict(X, verbose=0))
    assert int(again.first_optimizer.iterations) == 1


def test_mixed_float16_loss_scaling_state_is_kept(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = functional()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    network.fit(X, Y, epochs=1, verbose=0)
    layout = ArchiveLayout(network)
    assert layout.usable
    layout.write(tmp_path / "ours.keras", layout.snapshot())
    save_keras(network, tmp_path / "theirs.keras")
    assert_same_archive(tmp_path / "ours.keras", tmp_path / "theirs.keras")


def test_a_network_gaining_variables_is_outdated_and_one_with_assets_has_no_layout():
    network = functional()
    layout = ArchiveLayout(network)  # before fit: the optimizer has no slots yet
    network.fit(X, Y, epochs=1, verbose=0)
    assert layout.outdated(network)
    inputs = keras.Input((1,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=["a", "b"])
    assert not ArchiveLayout(keras.Model(inputs, lookup(inputs))).usable


def test_the_best_epoch_kept_in_memory_is_its_checkpoint_file(tmp_path):
    """The final evaluation puts the best epoch back from memory instead of reading its file: the values
    must be the file's, for the best epoch only."""
    from runs.run_checkpoint import RunCheckpoint

    network = functional()
    checkpoint = RunCheckpoint(tmp_path, monitor="loss", mode="max", keep=None, tensorboard=False)  # epoch 1 best
    network.fit(X, Y, epochs=3, verbose=0, callbacks=[checkpoint])
    assert checkpoint.best_in_memory[0] == 1 and checkpoint.best_in_memory[1].restorable
    assert not checkpoint.restore_best(2)
    from_file = functional()
    from_file.fit(X[:2], Y[:2], epochs=1, verbose=0)
    from_file.load_weights(tmp_path / "checkpoints" / "epoch_1.keras")
    assert not np.array_equal(network.predict(X, verbose=0), from_file.predict(X, verbose=0))
    assert checkpoint.restore_best(1)
    for ours, theirs in zip(network.variables, from_file.variables, strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(theirs)), ours.path
    assert int(network.optimizer.iterations) == int(from_file.optimizer.iterations) == 1
