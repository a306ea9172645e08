"""What do the trainer's hardware switches cost on CPU? CNN epochs: op determinism on/off, float32/bfloat16.

    python benchmarks/hardware.py [--train-examples 8000] [--epochs 2] [--runs 3] [--raw-dir /tmp/dm/downloads]

Whole `python main.py model=cnn dataset=mnist trainer.batch_size=128` runs (the CNN's default
config) in three settings, run alternately, `--runs` times each:

  base:   trainer.deterministic=true  trainer.precision=float32         (the defaults)
  nondet: trainer.deterministic=false trainer.precision=float32
  bf16:   trainer.deterministic=true  trainer.precision=mixed_bfloat16

To keep runs short, the runs read a prepared `mnist` folder of their own under `--work-dir`: the
first `--train-examples` training examples of genuine MNIST (prepared in `--data-dir` from the raw
IDX files in `<raw-dir>/mnist/`, see `prepared_mnist.py`) and the first `--eval-examples` of its
val and test splits,
written with the same manifest (so `main.py` takes it as prepared MNIST). An epoch's time is read
from the run's TensorBoard log: the wall time between the end of one epoch and the end of the
next (training, validation, checkpoint and logs of that epoch); the first epoch (tracing, first
reads) is discarded, so `--epochs 2` times one epoch a run. Prints the medians and the ratios
nondet / base and bf16 / base.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scratch import add_folder_arguments, run_in_scratch

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = {
    "base": ["trainer.deterministic=true", "trainer.precision=float32"],
    "nondet": ["trainer.deterministic=false", "trainer.precision=float32"],
    "bf16": ["trainer.deterministic=true", "trainer.precision=mixed_bfloat16"],
}


def subset_folder(source: Path, target: Path, counts: dict[str, int]) -> Path:
    """A prepared folder at `target` holding the first `counts[split]` examples of each split of `source`."""
    from data.prepare import MANIFEST, load_split, read_manifest
    from data.shards import RecordLayout, SplitWriter

    manifest = read_manifest(source)
    layout = RecordLayout.from_dict(manifest["record"])
    for split, count in counts.items():
        x, y = load_split(source, split)
        writer = SplitWriter(target, split, layout)
        writer.write(x[:count], y[:count])
        manifest["splits"][split] = writer.close()
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def epoch_end_times(run_dir: Path) -> list[float]:
    """Wall times at which each epoch's training scalars were logged (`<run>/train/events.*`), in order."""
    import tensorflow as tf

    times = {}
    for path in sorted((run_dir / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            if any(value.tag == "epoch_loss" for value in event.summary.value):
                times[event.step] = event.wall_time
    return [times[step] for step in sorted(times)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-examples", type=int, default=8000)
    parser.add_argument("--eval-examples", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"some of {', '.join(SETTINGS)}")
    add_folder_arguments(parser, mnist=True)
    run_in_scratch(parser.parse_args(), "hardware", compare)


def compare(args: argparse.Namespace, work: Path) -> None:
    counts = {"train": args.train_examples, "val": args.eval_examples, "test": args.eval_examples}
    from prepared_mnist import prepared_mnist
    from streaming import run_config

    config = run_config(["model=cnn", "dataset=mnist"])
    subset_folder(prepared_mnist(config, args.data_dir, args.raw_dir), work / "data" / "mnist", counts)
    settings = args.settings.split(",")
    epoch_times: dict[str, list[float]] = {name: [] for name in settings}
    for run in range(args.runs):
        for name in settings:
            results = work / "results" / f"{name}-{run}"
            command = [sys.executable, "main.py", "model=cnn", "dataset=mnist", "trainer.batch_size=128",
                       f"trainer.epochs={args.epochs}", *SETTINGS[name], f"data_dir={work / 'data'}",
                       f"results_dir={results}"]
            started = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
            metrics_path = next(results.rglob("metrics.json"))
            metrics = json.loads(metrics_path.read_text())
            ends = epoch_end_times(metrics_path.parent)
            epochs = [later - earlier for earlier, later in zip(ends, ends[1:])]
            epoch_times[name].extend(epochs)
            print(f"run {run + 1}/{args.runs} {name:6s}: epochs after the first {', '.join(f'{e:.2f}s' for e in epochs)}"
                  f" | fit {metrics['fit_time_s']:.1f}s, whole process {wall:.1f}s, "
                  f"test accuracy {metrics['test']['accuracy']:.4f}", flush=True)
            shutil.rmtree(results)
    median = {name: statistics.median(values) for name, values in epoch_times.items()}
    print(f"\nmedian epoch time ({args.train_examples:,} MNIST training examples, {args.eval_examples:,} validation, "
          f"batch 128, first of {args.epochs} epochs discarded, {args.runs} runs each, alternating):")
    for name, value in median.items():
        print(f"  {name:6s} {' '.join(SETTINGS[name]):55s} {value:.2f}s")
    for name in settings:
        if name != "base" and "base" in median:
            print(f"  ratio {name} / base: {median[name] / median['base']:.3f}")


if __name__ == "__main__":
    main()
