"""What does tokenizing in the input pipeline cost? One epoch of `model.fit` of the `rnn` model on the
`topics` texts fed by `data.pipeline` (texts tokenized, cut and padded per batch) against the same model fed
the same batches pre-tokenized in memory (token ids computed once, padded per batch by gathering rows of a
dense matrix).

    python benchmarks/text_pipeline.py [--repeats 5] [--num-samples 20000] [--work-dir /tmp/bench]

Both sides see one epoch's batches in the same order (the pipeline's stateless permutation of (seed, epoch)),
padded to the longest member of each batch, with `trainer.deterministic` on as in a default run. An epoch is
timed from the start of training to the end of the epoch by a callback. One warm-up round (tracing), then
alternating runs; medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from data.pipeline import split_source, training_batches  # noqa: E402
from data.prepare import dataset_config, prepare_dataset, read_manifest  # noqa: E402
from data.text import Tokenizer  # noqa: E402
from models import build_model  # noqa: E402
from models.base_model import BaseModel  # noqa: E402

BATCH = 64


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


def pretokenized(source, seed: int) -> tf.data.Dataset:
    """The epoch-0 batches of `training_batches`, from token ids computed once into a padded matrix."""
    from data.pipeline import read_all

    texts, labels = read_all(source)
    tokenizer = Tokenizer(source.preprocessing.tokenizer)
    ids = tokenizer(texts)[:, :source.max_length]
    lengths, matrix = ids.row_lengths(), ids.to_tensor(0)
    order = tf.random.experimental.index_shuffle(tf.range(source.count, dtype=tf.int64),
                                                 seed=tf.constant([seed, 0], tf.int64), max_index=source.count - 1)

    def batch(index):
        width = tf.maximum(tf.reduce_max(tf.gather(lengths, index)), 1)
        return tf.gather(matrix, index)[:, :width], tf.gather(labels, index)

    return (tf.data.Dataset.from_tensor_slices(order).batch(BATCH).map(batch, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--num-samples", type=int, default=20000)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args()
    from hydra import compose, initialize_config_dir

    from conf import CONF_DIR
    from conf.schema import register_configs

    register_configs()
    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        dataset = dataset_config("topics", [f"num_samples={args.num_samples}"])
        folder = prepare_dataset(dataset, work)
        manifest = read_manifest(folder)
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            config = compose("config", overrides=["model=rnn", "dataset=topics",
                                                  f"dataset.num_samples={args.num_samples}"])
        BaseModel.seed_everything(1, True)
        source = split_source(folder, manifest, "train", config.dataset)
        steps = source.training_steps(BATCH)
        feeds = {"pipeline": lambda: training_batches(source, BATCH, 1, 0, 1),
                 "pre-tokenized": lambda: pretokenized(source, 1)}
        models = {name: build_model(config, source.preprocessing) for name in feeds}
        times = {name: [] for name in feeds}
        for round_index in range(args.repeats + 1):
            for name, feed in feeds.items():
                timer = EpochTimer()
                models[name].network.fit(feed(), epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
                if round_index:
                    times[name].append(timer.seconds)
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"topics, {source.count} train texts, batch {BATCH}, {steps} steps, rnn; {args.repeats} alternating "
              "runs after one warm-up")
        for name, value in medians.items():
            print(f"  {name:14s} median {value:.3f} s per epoch  ({', '.join(f'{t:.3f}' for t in times[name])})")
        print(f"  pipeline / pre-tokenized: {medians['pipeline'] / medians['pre-tokenized']:.3f}")


if __name__ == "__main__":
    main()
