"""What the framework costs: `python main.py` against a plain Keras script, same MLP, data, epochs, batch size.

    python benchmarks/overhead.py [--runs 5] [--samples 20000] [--epochs 10]

Each side runs as a whole process, alternating, `--runs` times; the medians of the whole-process
wall time and of the time inside `model.fit` are compared as ratios (main.py / plain Keras).
main.py's fit time includes what it does each epoch beyond plain Keras: a checkpoint, TensorBoard
and CSV logs, the learning-rate schedule and the epoch log line. Work happens in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scratch import add_folder_arguments, run_in_scratch

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", default="256,128")
    add_folder_arguments(parser)
    run_in_scratch(parser.parse_args(), "overhead", compare)


def compare(args: argparse.Namespace, work: Path) -> None:
    dataset = [f"dataset.num_samples={args.samples}", f"dataset.input_shape=[{args.features}]"]
    common = ["dataset=synthetic", *dataset, "model=mlp", f"model.hidden_units=[{args.hidden}]", f"trainer.epochs={args.epochs}",
              f"trainer.batch_size={args.batch_size}"]
    sys.path.insert(0, str(ROOT))
    from data.prepare import dataset_config, prepare_dataset

    folder = prepare_dataset(dataset_config("synthetic", tuple(dataset)), work / "data")
    ours = [sys.executable, str(ROOT / "main.py"), *common, f"data_dir={work / 'data'}",
            f"results_dir={work / 'results'}"]
    plain = [sys.executable, str(ROOT / "benchmarks" / "plain_keras_mlp.py"), str(folder), str(args.epochs),
             str(args.batch_size), args.hidden]
    rows = {"main.py": {"wall": [], "fit": []}, "plain keras": {"wall": [], "fit": []}}
    for run in range(args.runs):
        wall, stdout = timed(plain, work)
        rows["plain keras"]["wall"].append(wall)
        rows["plain keras"]["fit"].append(json.loads(stdout.strip().splitlines()[-1])["fit_time_s"])
        wall, _ = timed(ours, work)
        newest = max((work / "results" / "mlp").glob("*/*/metrics.json"), key=lambda p: p.stat().st_mtime)
        rows["main.py"]["wall"].append(wall)
        rows["main.py"]["fit"].append(json.loads(newest.read_text())["fit_time_s"])
        print(f"run {run + 1}/{args.runs}: plain wall {rows['plain keras']['wall'][-1]:.2f}s fit "
              f"{rows['plain keras']['fit'][-1]:.2f}s | main.py wall {wall:.2f}s fit {rows['main.py']['fit'][-1]:.2f}s",
              flush=True)
    median = {side: {k: statistics.median(v) for k, v in values.items()} for side, values in rows.items()}
    print(f"\nmedians over {args.runs} alternating runs ({args.samples} samples x {args.features} features, "
          f"{args.epochs} epochs, batch {args.batch_size}, MLP [{args.hidden}]):")
    for side, values in median.items():
        print(f"  {side:12s} whole process {values['wall']:.2f}s   model.fit {values['fit']:.2f}s")
    print(f"  ratio main.py / plain keras: whole process {median['main.py']['wall'] / median['plain keras']['wall']:.3f}, "
          f"training loop {median['main.py']['fit'] / median['plain keras']['fit']:.3f}")


if __name__ == "__main__":
    main()
