"""The tf.data pipeline: per-epoch order is a pure function of (seed, epoch)."""

from __future__ import annotations

import numpy as np

from data.pipeline import evaluation_batches, steps_per_epoch, training_batches


def _epochs(dataset, steps):
    labels = [batch[1].numpy().tolist() for batch in dataset]
    return [sum(labels[i:i + steps], []) for i in range(0, len(labels), steps)]


def test_each_epoch_is_a_seeded_permutation():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    y = np.arange(10)
    steps = steps_per_epoch(10, 4)
    epochs = _epochs(training_batches(x, y, 4, seed=3, first_epoch=0, epochs=3), steps)
    assert len(epochs) == 3
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)
    assert epochs[0] != epochs[1]
    assert epochs == _epochs(training_batches(x, y, 4, seed=3, first_epoch=0, epochs=3), steps)
    assert epochs != _epochs(training_batches(x, y, 4, seed=4, first_epoch=0, epochs=3), steps)


def test_resuming_at_an_epoch_replays_the_same_batches():
    x = np.random.default_rng(0).normal(size=(50, 2)).astype("float32")
    y = np.arange(50)
    steps = steps_per_epoch(50, 8)
    full = _epochs(training_batches(x, y, 8, seed=9, first_epoch=0, epochs=4), steps)
    resumed = _epochs(training_batches(x, y, 8, seed=9, first_epoch=2, epochs=4), steps)
    assert resumed == full[2:]


def test_features_are_scaled_and_match_their_labels():
    x = (np.arange(6, dtype="uint8") * 2).reshape(6, 1)
    y = np.arange(6)
    for features, labels in training_batches(x, y, 4, seed=0, first_epoch=0, epochs=1, scale=2.0):
        np.testing.assert_allclose(features.numpy()[:, 0], labels.numpy())
    batches = list(evaluation_batches(x, y, 4, scale=2.0))
    assert [len(b[1]) for b in batches] == [4, 2]
    np.testing.assert_allclose(batches[0][0].numpy()[:, 0], [0, 1, 2, 3])
