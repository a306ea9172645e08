"""Does streaming the shards slow training down? CNN epochs fed from the shards against from memory.

    python benchmarks/streaming.py [--train-examples 12000] [--repeats 3] [--raw-dir /tmp/dm/downloads]

The MNIST CNN (`model=cnn`, its default config, `dataset=mnist`, batch 128, the trainer's defaults:
op determinism, float32) is built once, as `main.py` builds it (`configure_devices`,
`seed_everything`, `build_model`), and trained in this process by Keras `model.fit(batches,
steps_per_epoch=..., epochs=1)` on batches of the genuine MNIST training split (prepared in
`--data-dir` from the raw IDX files in `<raw-dir>/mnist/`, see `prepared_mnist.py`), fed by
`data.pipeline.training_batches` in two ways:

  A  cache=none:   the split's record shards streamed, windowed stateless shuffle, decode
  B  cache=memory: the split read once into tensors, full stateless permutation, gather

On 2 CPU cores a full epoch (54,000 examples) takes minutes, so by default the first
`--train-examples` examples of the training split are written to shards of their own (the layout
`data.prepare` writes, `data.shards.SplitWriter`) under `--work-dir`; `--train-examples 0` uses the
whole split. One warm-up epoch of each (tracing, first reads), then `--repeats` epochs of each,
alternating A B A B ...; each epoch's dataset is built before its timer starts (B's one-off read
of the split into memory happens there). An epoch is timed by a callback from the start of
training to the end of the epoch: `fit` itself often returns seconds later, idle, when its
tf.data iterator is destroyed (the wait grows with the iterator's lifetime and goes away with
`tf.data.Options().autotune.enabled = False`); within `main.py`'s multi-epoch fit that happens once
per fit, not once per epoch, so it is printed apart. Prints the medians and the ratio A / B
(target <= 1.05).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

from scratch import add_folder_arguments, run_in_scratch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_config(overrides: list[str]):
    """The composed config of `python main.py <overrides>`, without starting a run."""
    from hydra import compose, initialize_config_dir

    import data.sources  # noqa: F401 -- registers every dataset's schema
    import models  # noqa: F401 -- registers every model's schema
    from conf import CONF_DIR
    from conf.schema import register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def subset_source(source, folder: Path, examples: int, work: Path):
    """The first `examples` examples of `source`'s split, written as shards of their own under `work`."""
    from data.prepare import load_split
    from data.shards import SplitWriter

    x, y = load_split(folder, "train")
    writer = SplitWriter(work, "train", source.layout)
    writer.write(x[:examples], y[:examples])
    entry = writer.close()
    return dataclasses.replace(source, files=tuple(str(work / s["file"]) for s in entry["shards"]),
                               count=entry["count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-examples", type=int, default=12000, help="0: the whole training split")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    add_folder_arguments(parser, mnist=True)
    run_in_scratch(parser.parse_args(), "streaming", compare)


def compare(args: argparse.Namespace, work: Path) -> None:
    config = run_config(["model=cnn", "dataset=mnist", f"trainer.batch_size={args.batch_size}",
                         f"data_dir={args.data_dir}"])
    from prepared_mnist import prepared_mnist

    from data.pipeline import split_source, steps_per_epoch, training_batches
    from data.prepare import read_manifest
    from models import build_model
    from models.base_model import BaseModel
    from runs.devices import configure_devices

    folder = prepared_mnist(config, args.data_dir, args.raw_dir)
    source = split_source(folder, read_manifest(folder), "train", config.dataset)
    if args.train_examples and args.train_examples < source.count:
        source = subset_source(source, folder, args.train_examples, work)
    sides = {"A streamed (cache=none)": dataclasses.replace(source, cache="none"),
             "B in memory (cache=memory)": dataclasses.replace(source, cache="memory")}
    configure_devices(config.trainer)
    BaseModel.seed_everything(config.seed, config.trainer.deterministic)
    network = build_model(config).network
    batch, steps = config.trainer.batch_size, steps_per_epoch(source.count, config.trainer.batch_size)
    print(f"MNIST CNN (filters {config.model.filters}, blocks {config.model.blocks}), {source.count:,} training "
          f"examples, batch {batch}, {steps} steps an epoch, deterministic={config.trainer.deterministic}, "
          f"precision={config.trainer.precision}", flush=True)
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """The epoch: from the start of training to the end of its last step's callbacks."""

        def on_train_begin(self, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.ended = time.perf_counter()

    timer = EpochTimer()
    times: dict[str, list[float]] = {side: [] for side in sides}
    teardown: dict[str, list[float]] = {side: [] for side in sides}
    for epoch in range(args.repeats + 1):  # epoch 0 warms up each side and is dropped below
        for side, split in sides.items():
            started = time.perf_counter()
            batches = training_batches(split, batch, config.seed, epoch, epoch + 1)
            built = time.perf_counter() - started
            network.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
            returned = time.perf_counter()
            times[side].append(timer.ended - timer.began)
            teardown[side].append(returned - timer.ended)
            print(f"  epoch {epoch}{' (warm-up)' if epoch == 0 else ''} {side}: {times[side][-1]:.2f}s "
                  f"(dataset built in {built:.2f}s before; fit returned {teardown[side][-1]:.2f}s after)", flush=True)
    median = {side: statistics.median(values[1:]) for side, values in times.items()}
    (a, a_time), (b, b_time) = median.items()
    for side, value in median.items():
        print(f"{side}: median epoch {value:.2f}s ({source.count / value:,.0f} examples/s), runs "
              + ", ".join(f"{t:.2f}" for t in times[side][1:])
              + "; fit returned after " + ", ".join(f"{t:.2f}" for t in teardown[side][1:]) + " s more")
    ratio = a_time / b_time
    print(f"ratio A / B = {ratio:.3f} ({'met' if ratio <= 1.05 else 'missed'}: target <= 1.05)")

if __name__ == "__main__":
    main()
