"""The `tf.data` input pipeline: prepared arrays in, normalised batches out, prefetched.

Training batches are a pure function of (seed, epoch): each epoch draws its own permutation with a
stateless shuffle, so a run resumed at epoch k sees exactly the batches it would have seen, and two
runs with one seed see the same ones. The arrays sit in memory as tensors and batches are gathered
from them, which is cheaper than a per-element pipeline and makes a separate cache step moot.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _normalise(x: tf.Tensor, scale: float) -> tf.Tensor:
    return tf.cast(x, tf.float32) / scale


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return -(-num_examples // batch_size)


def training_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, first_epoch: int,
                     epochs: int, scale: float = 1.0) -> tf.data.Dataset:
    """The shuffled batches of epochs `first_epoch` .. `epochs - 1`, one epoch after the other."""
    features, labels = tf.constant(x), tf.constant(y)
    count = len(y)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.index_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
            max_index=count - 1)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    return (tf.data.Dataset.range(first_epoch, epochs)
            .flat_map(epoch_batches)
            .map(lambda index: (_normalise(tf.gather(features, index), scale), tf.gather(labels, index)),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def evaluation_batches(x: np.ndarray, y: np.ndarray, batch_size: int, scale: float = 1.0) -> tf.data.Dataset:
    """Batches in stored order, normalised once and cached: validation and test data."""
    return (tf.data.Dataset.from_tensor_slices((x, y))
            .batch(batch_size)
            .map(lambda features, labels: (_normalise(features, scale), labels),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .cache()
            .prefetch(tf.data.AUTOTUNE))
