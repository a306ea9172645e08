"""Is a dataset read through TensorFlow Datasets or Hugging Face `datasets` as fast as this project's own shards?

    python benchmarks/ecosystem_datasets.py [--count 60000] [--repeats 5] [--work-dir /tmp/bench]

The same MNIST-shaped data (`--count` x 28x28x1 uint8 images of seeded noise, 10 labels) three ways:
(own) written by `data.shards.SplitWriter`, the layout `python -m data.prepare mnist` writes; (tfds) stored
as a TFDS dataset (`store_as_tfds_dataset`: PNG-encoded images in TFRecords, as TFDS keeps MNIST) and
prepared by `dataset=tfds`; (hf) a `datasets` DatasetDict of `Image` features (PNG, as the hub keeps MNIST)
written by `save_to_disk` and prepared by `dataset=huggingface`. Both ecosystem sources convert into this
project's shards once, so after preparation all three are read by the same pipeline: the benchmark
measures that one-off preparation, then alternates epochs over the three train splits (samples per second,
each mode of `dataset.cache`, and one epoch of an MLP's `fit`) and gives each one's ratio to `own`.
For reference, one epoch of TFDS's own `as_dataset` pipeline (PNG decoded every epoch), which reading
through TFDS directly would cost. One warm-up round, then medians of alternating rounds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.input_pipeline import BATCH, EpochTimer, iterated, mlp, write_split  # noqa: E402
from data.pipeline import SplitSource, steps_per_epoch, training_batches  # noqa: E402
from data.preprocessing import Preprocessing  # noqa: E402
from data.shards import RecordLayout  # noqa: E402

MODES = ("memory", "none")


def ecosystem_config(source: str, name: str, **keys):
    """The validated dataset config `dataset=<source> dataset.name=<name> ...` composes to."""
    from data.prepare import dataset_config

    return dataset_config(source, [f"name={name}", *(f"{key}={value}" for key, value in keys.items())])


def prepared_train(folder: Path) -> SplitSource:
    """The pipeline's view of a prepared folder's train split."""
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["splits"]["train"]
    layout = RecordLayout.from_dict(manifest["record"])
    return SplitSource(files=tuple(str(folder / shard["file"]) for shard in entry["shards"]), count=entry["count"],
                       layout=layout, input_shape=(28, 28, 1), preprocessing=Preprocessing("scale", 255.0))


def make_tfds(x: np.ndarray, y: np.ndarray, root: Path) -> None:
    import tensorflow_datasets as tfds

    features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(28, 28, 1)),
                                           "label": tfds.features.ClassLabel(num_classes=10)})
    tfds.dataset_builders.store_as_tfds_dataset("bench_digits", "1.0.0", features, {
        "train": ((str(i), {"image": x[i], "label": int(y[i])}) for i in range(len(x))),
        "test": ((str(i), {"image": x[i], "label": int(y[i])}) for i in range(1000))}, data_dir=str(root))


def make_hf(x: np.ndarray, y: np.ndarray, path: Path) -> None:
    import datasets

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=10)})

    def rows(indices):
        for i in indices:
            yield {"image": x[i, ..., 0], "label": int(y[i])}

    datasets.DatasetDict({
        "train": datasets.Dataset.from_generator(rows, features=features, gen_kwargs={"indices": range(len(x))}),
        "test": datasets.Dataset.from_generator(rows, features=features, gen_kwargs={"indices": range(1000)}),
    }).save_to_disk(str(path))


def timed(step) -> tuple[float, object]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench"))
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ecosystem-", dir=args.work_dir))
    try:
        compare(args.count, args.repeats, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(count: int, repeats: int, work: Path) -> None:
    from data.prepare import prepare_dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (count, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, count).astype("int64")
    own_seconds, own = timed(lambda: write_split(x, y, work / "own"))
    tfds_store, _ = timed(lambda: make_tfds(x, y, work / "tfds"))
    hf_store, _ = timed(lambda: make_hf(x, y, work / "hf"))
    tfds_prepare, tfds_folder = timed(lambda: prepare_dataset(ecosystem_config(
        "tfds", "bench_digits", tfds_dir=work / "tfds"), work / "data"))
    hf_prepare, hf_folder = timed(lambda: prepare_dataset(ecosystem_config("huggingface", work / "hf"), work / "data"))
    print(f"preparation of {count:,} examples: own shards written {own_seconds:.1f}s; tfds {tfds_prepare:.1f}s "
          f"(after {tfds_store:.1f}s storing it as a TFDS dataset); huggingface {hf_prepare:.1f}s (after "
          f"{hf_store:.1f}s of save_to_disk)", flush=True)
    sources = {"own": own, "tfds": prepared_train(tfds_folder), "hf": prepared_train(hf_folder)}
    import tensorflow_datasets as tfds

    direct = tfds.builder_from_directory(str(work / "tfds" / "bench_digits" / "1.0.0")).as_dataset(
        split="train").map(lambda example: (tf.cast(example["image"], tf.float32) / 255.0, example["label"]),
                           num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH).prefetch(2)
    times: dict[str, list[float]] = {}
    model = mlp((28, 28, 1))
    timer = EpochTimer()
    for repeat in range(repeats + 1):  # round 0 warms up and is dropped below
        for name, source in sources.items():
            for mode in MODES:
                moded = dataclasses.replace(source, cache=mode)
                seconds = iterated(training_batches(moded, BATCH, repeat, 0, 1))
                times.setdefault(f"{name} iterate {mode}", []).append(source.count / seconds)
                model.fit(training_batches(moded, BATCH, repeat, 0, 1), verbose=0, shuffle=False, callbacks=[timer],
                          steps_per_epoch=steps_per_epoch(source.count, BATCH))
                times.setdefault(f"{name} fit {mode}", []).append(source.count / timer.elapsed)
        times.setdefault("tfds as_dataset iterate", []).append(count / iterated(direct))
    median = {key: statistics.median(values[1:]) for key, values in times.items()}
    for mode in MODES:
        for kind in ("iterate", "fit"):
            base = median[f"own {kind} {mode}"]
            print(f"cache={mode}, {'one epoch iterated' if kind == 'iterate' else 'one epoch of MLP fit'}: own "
                  f"{base:,.0f} samples/s; " + "; ".join(
                      f"{name} {median[f'{name} {kind} {mode}']:,.0f} ({median[f'{name} {kind} {mode}'] / base:.3f})"
                      for name in ("tfds", "hf")), flush=True)
    direct_rate = median["tfds as_dataset iterate"]
    print(f"reference: TFDS's own as_dataset pipeline (PNG decoded every epoch) {direct_rate:,.0f} samples/s "
          f"({direct_rate / median['own iterate none']:.3f} of own, cache=none)")


if __name__ == "__main__":
    main()
