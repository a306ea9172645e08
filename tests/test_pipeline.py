"""The tf.data pipeline over record shards: per-epoch order is a pure function of (seed, epoch),
in memory and streamed alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.pipeline import SplitSource, evaluation_batches, steps_per_epoch, training_batches
from data.preprocessing import Preprocessing
from data.shards import RecordLayout, SplitWriter


def shards(tmp_path: Path, x: np.ndarray, y: np.ndarray, per_shard: int, cache: str = "none",
           window: int = 16384, scale: float = 1.0) -> SplitSource:
    layout = RecordLayout(str(x.dtype), x.shape[1:], "int64")
    entry = SplitWriter(tmp_path, "train", layout, shard_bytes=per_shard * layout.record_bytes)
    entry.write(x, y)
    written = entry.close()
    return SplitSource(tuple(str(tmp_path / s["file"]) for s in written["shards"]), written["count"], layout,
                       tuple(x.shape[1:]), preprocessing=Preprocessing("scale", scale), cache=cache,
                       shuffle_window=window)


def _epochs(dataset, steps):
    labels = [batch[1].numpy().tolist() for batch in dataset]
    return [sum(labels[i:i + steps], []) for i in range(0, len(labels), steps)]


@pytest.mark.parametrize("cache", ["memory", "none"])
def test_each_epoch_is_a_seeded_permutation(tmp_path, cache):
    x = np.arange(10, dtype="float32").reshape(10, 1)
    source = shards(tmp_path, x, np.arange(10), per_shard=3, cache=cache)
    assert source.in_memory() == (cache == "memory")
    steps = steps_per_epoch(10, 4)
    epochs = _epochs(training_batches(source, 4, seed=3, first_epoch=0, epochs=3), steps)
    assert len(epochs) == 3
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)
    assert epochs[0] != epochs[1]
    assert epochs == _epochs(training_batches(source, 4, seed=3, first_epoch=0, epochs=3), steps)
    assert epochs != _epochs(training_batches(source, 4, seed=4, first_epoch=0, epochs=3), steps)


@pytest.mark.parametrize("cache", ["memory", "none"])
def test_resuming_at_an_epoch_replays_the_same_batches(tmp_path, cache):
    x = np.random.default_rng(0).normal(size=(50, 2)).astype("float32")
    source = shards(tmp_path, x, np.arange(50), per_shard=7, cache=cache, window=16)
    steps = steps_per_epoch(50, 8)
    full = list(training_batches(source, 8, seed=9, first_epoch=0, epochs=4))
    resumed = list(training_batches(source, 8, seed=9, first_epoch=2, epochs=4))
    assert len(full) == 4 * steps and len(resumed) == 2 * steps
    for (xa, ya), (xb, yb) in zip(full[2 * steps:], resumed):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_a_streamed_window_mixes_shards_and_moves_examples_only_within_the_window(tmp_path):
    """Streaming reads 16 shards at once, one record from each in turn, and permutes each window."""
    y = np.arange(400)
    source = shards(tmp_path, y.reshape(400, 1).astype("float32"), y, per_shard=20, window=40)
    assert len(source.files) == 20
    (epoch,) = _epochs(training_batches(source, 40, seed=1, first_epoch=0, epochs=1), 10)
    assert sorted(epoch) == list(range(400))
    first_window = epoch[:40]
    assert len({label // 20 for label in first_window}) == 16  # examples of 16 shards in the first window
    assert first_window != sorted(first_window)  # shuffled within it


def test_features_are_scaled_and_match_their_labels(tmp_path):
    x = (np.arange(6, dtype="uint8") * 2).reshape(6, 1)
    source = shards(tmp_path, x, np.arange(6), per_shard=4, cache="memory", scale=2.0)
    for features, labels in training_batches(source, 4, seed=0, first_epoch=0, epochs=1):
        np.testing.assert_allclose(features.numpy()[:, 0], labels.numpy())
    batches = list(evaluation_batches(source, 4))
    assert [len(b[1]) for b in batches] == [4, 2]
    np.testing.assert_allclose(batches[0][0].numpy()[:, 0], [0, 1, 2, 3])


def test_auto_keeps_small_splits_in_memory_and_streams_large_ones(tmp_path):
    small = shards(tmp_path, np.zeros((10, 4), "float32"), np.arange(10), per_shard=10, cache="auto")
    assert small.in_memory()
    import dataclasses

    assert not dataclasses.replace(small, count=10**9).in_memory()
