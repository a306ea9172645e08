"""Does the input pipeline keep training fed? `data.pipeline` against tensors already in memory.

    python benchmarks/input_pipeline.py [--repeats 5] [--work-dir /tmp/bench]

For MNIST-shaped (60,000 x 28x28x1) and CIFAR-10-shaped (50,000 x 32x32x3) uint8 data, generated
(no download) and written as a prepared split's record shards (`data.shards.SplitWriter`, the
layout `data.prepare` writes) under a temporary folder of `--work-dir`: (1) samples per second of
one epoch of `training_batches` against batching the same data held as normalised tensors
(`tf.data.Dataset.from_tensor_slices(...).batch`, no shuffle); (2) one epoch of `model.fit` of an
MLP fed by the pipeline against one fed the normalised tensors directly, timed from the start of
training to the end of the epoch by a callback (the teardown of the iterator after it, which can
idle for seconds, is left out; see `streaming.py`). The pipeline is measured
in both of its modes: `cache=memory` (the split read once into tensors, a full stateless
permutation per epoch, gather, normalise, prefetch) and `cache=none` (the shards streamed, a
windowed stateless shuffle, decode, normalise, prefetch). Each epoch's dataset is built before
its timer starts: the one-off read of the split into memory (`cache=memory`) is not part of an
epoch. One warm-up round (not counted: tracing, first reads), then alternating runs; medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from data.pipeline import SplitSource, steps_per_epoch, training_batches  # noqa: E402
from data.preprocessing import Preprocessing  # noqa: E402
from data.shards import RecordLayout, SplitWriter  # noqa: E402

BATCH = 128
SHAPES = {"mnist-shaped": (60000, (28, 28, 1)), "cifar10-shaped": (50000, (32, 32, 3))}
MODES = ("memory", "none")


def iterated(batches: tf.data.Dataset) -> float:
    """Seconds to iterate `batches` to its end; the iterator is destroyed after the timer stops."""
    started = time.perf_counter()
    iterator = iter(batches)
    for _ in iterator:
        pass
    elapsed = time.perf_counter() - started
    del iterator
    return elapsed


class EpochTimer(keras.callbacks.Callback):
    """A `fit` epoch from the start of training to the end of the epoch (the iterator's teardown after it,
    which can idle for seconds while tf.data's autotuning thread wakes up, is not counted)."""

    def on_train_begin(self, logs=None):
        self.began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.elapsed = time.perf_counter() - self.began


def mlp(input_shape) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(256, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def write_split(x: np.ndarray, y: np.ndarray, folder: Path) -> SplitSource:
    """`x`, `y` as the train split's shards of a prepared folder; the pipeline's view of them."""
    layout = RecordLayout(str(x.dtype), tuple(x.shape[1:]), "int64")
    writer = SplitWriter(folder, "train", layout)
    for start in range(0, len(x), 8192):
        writer.write(x[start:start + 8192], y[start:start + 8192])
    entry = writer.close()
    return SplitSource(files=tuple(str(folder / shard["file"]) for shard in entry["shards"]), count=entry["count"],
                       layout=layout, input_shape=tuple(x.shape[1:]),
                       preprocessing=Preprocessing("scale", 255.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench"))
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="input-pipeline-", dir=args.work_dir))
    try:
        for name, (count, shape) in SHAPES.items():
            compare(name, count, shape, args.repeats, work / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(name: str, count: int, shape: tuple[int, ...], repeats: int, folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
    y = rng.integers(0, 10, count).astype("int64")
    source = write_split(x, y, folder)
    sources = {mode: dataclasses.replace(source, cache=mode) for mode in MODES}
    normalised = tf.constant(x.astype("float32") / 255.0)
    labels = tf.constant(y)
    in_memory = tf.data.Dataset.from_tensor_slices((normalised, labels)).batch(BATCH)
    times = {key: [] for key in ("in memory", "fit in memory", *(f"{kind} {mode}" for mode in MODES
                                                                  for kind in ("pipeline", "fit pipeline")))}
    model = mlp(shape)
    steps = steps_per_epoch(count, BATCH)
    timer = EpochTimer()
    for repeat in range(repeats + 1):  # round 0 warms up and is dropped below
        for mode in MODES:
            times[f"pipeline {mode}"].append(iterated(training_batches(sources[mode], BATCH, repeat, 0, 1)))
        times["in memory"].append(iterated(in_memory))
        for mode in MODES:
            batches = training_batches(sources[mode], BATCH, repeat, 0, 1)
            model.fit(batches, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[timer])
            times[f"fit pipeline {mode}"].append(timer.elapsed)
        model.fit(normalised, labels, batch_size=BATCH, epochs=1, verbose=0, shuffle=True, callbacks=[timer])
        times["fit in memory"].append(timer.elapsed)
    median = {key: statistics.median(values[1:]) for key, values in times.items()}
    print(f"{name}: iterate one epoch: in-memory tensors {count / median['in memory']:,.0f} samples/s; pipeline "
          + ", ".join(f"cache={mode} {count / median[f'pipeline {mode}']:,.0f} samples/s" for mode in MODES))
    print(f"{name}: one epoch of MLP training: in-memory tensors {median['fit in memory']:.2f}s; pipeline "
          + ", ".join(f"cache={mode} {median[f'fit pipeline {mode}']:.2f}s "
                      f"({100 * (median[f'fit pipeline {mode}'] / median['fit in memory'] - 1):+.1f}%)"
                      for mode in MODES), flush=True)


if __name__ == "__main__":
    main()
