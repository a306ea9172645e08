"""Does the input pipeline keep training fed? `data.pipeline` against tensors already in memory.

    python benchmarks/input_pipeline.py [--repeats 5]

For MNIST-shaped (60,000 x 28x28x1) and CIFAR-10-shaped (50,000 x 32x32x3) uint8 data, generated
in memory (no download): (1) samples per second of one epoch of `training_batches` (per-epoch
stateless shuffle, gather, normalise, prefetch) against batching the same data held as
normalised tensors (`tf.data.Dataset.from_tensor_slices(...).batch`, no shuffle); (2) one epoch of `model.fit` of an MLP fed by the pipeline against one fed
the normalised tensors directly. Alternating runs; medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from data.pipeline import steps_per_epoch, training_batches  # noqa: E402

BATCH = 128
SHAPES = {"mnist-shaped": (60000, (28, 28, 1)), "cifar10-shaped": (50000, (32, 32, 3))}


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def mlp(input_shape) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for name, (count, shape) in SHAPES.items():
        x = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
        y = rng.integers(0, 10, count).astype("int64")
        normalised = tf.constant(x.astype("float32") / 255.0)
        labels = tf.constant(y)
        in_memory = tf.data.Dataset.from_tensor_slices((normalised, labels)).batch(BATCH)
        times = {"pipeline": [], "in memory": [], "fit pipeline": [], "fit in memory": []}
        model = mlp(shape)
        steps = steps_per_epoch(count, BATCH)
        for repeat in range(args.repeats):
            times["pipeline"].append(timed(lambda: [b for b in training_batches(x, y, BATCH, repeat, 0, 1, 255.0)]))
            times["in memory"].append(timed(lambda: [b for b in in_memory]))
            times["fit pipeline"].append(timed(lambda: model.fit(
                training_batches(x, y, BATCH, repeat, 0, 1, 255.0), steps_per_epoch=steps, verbose=0, shuffle=False)))
            times["fit in memory"].append(timed(lambda: model.fit(
                normalised, labels, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)))
        median = {key: statistics.median(values) for key, values in times.items()}
        print(f"{name}: iterate one epoch: pipeline {count / median['pipeline']:,.0f} samples/s, "
              f"in-memory tensors {count / median['in memory']:,.0f} samples/s")
        print(f"{name}: one epoch of MLP training: pipeline {median['fit pipeline']:.2f}s, in-memory "
              f"{median['fit in memory']:.2f}s, pipeline cost {100 * (median['fit pipeline'] / median['fit in memory'] - 1):+.1f}%")


if __name__ == "__main__":
    main()
