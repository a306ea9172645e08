"""Does memory stay flat as the dataset grows? Peak memory of preparing and of training on N examples.

    python benchmarks/memory.py [--sizes 50000,200000,1000000,2000000] [--work-dir /tmp/bench/memory]

For each N, two whole processes, each started by a fresh wrapper process that reports the peak
resident set size of its child (`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`) and the wall time:

  (a) python -m data.prepare synthetic num_samples=N input_shape=[784] --data-dir <work>/data
  (b) python main.py dataset=synthetic dataset.num_samples=N 'dataset.input_shape=[784]'
        dataset.cache=none model.hidden_units=[64] trainer.epochs=1 trainer.batch_size=512
        data_dir=<work>/data results_dir=<work>/results

(b) includes everything a run does: checking the prepared folder, one epoch of training with
validation, and the evaluation of the best checkpoint on the train, val and test splits, all
streamed from the shards. N examples of 784 float32 values take N x 3,144 bytes on disk (2M:
6.3 GB); each prepared folder and run folder is deleted once measured. Prints a table and the
growth of each peak from the second size to the last (target: <= +10 %).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Runs the command given as its arguments, its output going to two files, and prints one JSON line:
# the child's peak RSS (ru_maxrss, KiB on Linux), its wall time, exit status, start (epoch seconds)
# and its RSS sampled every 0.1 s from /proc (to tell which phase of the run the peak falls in;
# samples can miss a short spike that ru_maxrss catches). A fresh wrapper per measurement, so that
# RUSAGE_CHILDREN holds that one child alone.
WRAPPER = """
import json, resource, subprocess, sys, time
out, err, command = sys.argv[1], sys.argv[2], sys.argv[3:]
start, started, samples = time.time(), time.perf_counter(), []
with open(out, "w") as stdout, open(err, "w") as stderr:
    child = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as status:
                rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            samples.append((round(time.perf_counter() - started, 2), rss))
        except (OSError, StopIteration, ValueError):
            pass
        time.sleep(0.1)
wall = time.perf_counter() - started
print(json.dumps({"rc": child.returncode, "wall_s": wall, "start": start, "samples": samples,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""
# Log lines of main.py that end the phases of a training run (the log's time stamps have milliseconds).
PHASES = (("setup", "job folder:"), ("fit", "epoch 1/1"), ("evaluate", "best epoch"))


def measured(command: list[str], logs: Path, name: str) -> dict:
    """Run `command` in the repository root under a fresh wrapper; its peak RSS (MB) and wall time."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    report = subprocess.run([sys.executable, "-c", WRAPPER, str(out), str(err), *command], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    result = json.loads(report.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {result['rc']}):\n{err.read_text()[-3000:]}")
    return {"peak_mb": result["maxrss_kib"] * 1024 / 1e6, "wall_s": result["wall_s"], "start": result["start"],
            "samples": result["samples"], "log": err}


def phase_peaks(run: dict) -> dict[str, tuple[float, float]]:
    """{phase: (its end in seconds from the start, the largest sampled RSS in it, MB)} of a main.py run,
    the phases ending at the log lines of PHASES (the last, "exit", at the process's end)."""
    ends = {}
    for line in run["log"].read_text().splitlines():
        for phase, marker in PHASES:
            if phase not in ends and marker in line and line.startswith("["):
                stamp = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                ends[phase] = stamp - run["start"]
    ends["exit"] = run["wall_s"]
    peaks, begin = {}, 0.0
    for phase, end in ends.items():
        inside = [rss for t, rss in run["samples"] if begin <= t < end]
        peaks[phase] = (end, max(inside, default=0) * 1024 / 1e6)
        begin = end
    return peaks


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,200000,1000000,2000000", help="values of N, comma-separated")
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench/memory"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    data_dir, results_dir, logs = args.work_dir / "data", args.work_dir / "results", args.work_dir / "logs"
    for folder in (data_dir, results_dir, logs):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    python = sys.executable
    rows = []
    for n in sizes:
        dataset = [f"num_samples={n}", f"input_shape=[{args.features}]"]
        prepare = measured([python, "-m", "data.prepare", "synthetic", *dataset, "--data-dir", str(data_dir)],
                           logs, f"prepare-{n}")
        prepared = [p for p in data_dir.iterdir() if p.name.startswith("synthetic-")]
        size = sum(folder_bytes(p) for p in prepared)
        train = measured([python, "main.py", "dataset=synthetic", *(f"dataset.{o}" for o in dataset),
                          "dataset.cache=none", "model=mlp", "model.hidden_units=[64]", "trainer.epochs=1",
                          "trainer.batch_size=512", f"data_dir={data_dir}", f"results_dir={results_dir}"],
                         logs, f"train-{n}")
        metrics = json.loads(next(results_dir.rglob("metrics.json")).read_text())
        again = [p for p in data_dir.iterdir() if p.name.startswith("synthetic-") and p not in prepared]
        phases = phase_peaks(train)
        for run in (prepare, train):
            del run["samples"], run["log"]
        rows.append({"n": n, "disk_gb": size / 1e9, "prepare": prepare, "train": train, "phases": phases,
                     "fit_s": metrics["fit_time_s"], "test_accuracy": metrics["test"]["accuracy"]})
        if again:
            print(f"warning: main.py prepared the data again in {again[0]} (its dataset config differs from "
                  "data.prepare's): the train figures include a preparation", flush=True)
        for folder in [*prepared, *again]:
            shutil.rmtree(folder)
        shutil.rmtree(results_dir)
        results_dir.mkdir()
        print(f"N={n:,}: on disk {size / 1e9:.2f} GB | prepare peak {prepare['peak_mb']:,.0f} MB in "
              f"{prepare['wall_s']:.1f}s | train peak {train['peak_mb']:,.0f} MB in {train['wall_s']:.1f}s "
              f"(fit {metrics['fit_time_s']:.1f}s, test accuracy {metrics['test']['accuracy']:.3f})\n  train phases "
              "(end in s, largest sampled RSS): " + ", ".join(f"{phase} {end:.1f}s {peak:,.0f} MB"
                                                            for phase, (end, peak) in phases.items()), flush=True)
    print("\n| N | on disk | prepare: peak RSS | prepare: wall | train 1 epoch: peak RSS | sampled RSS: setup / "
          "fit / evaluate | train: wall (fit) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        sampled = " / ".join(f"{row['phases'][phase][1]:,.0f}" for phase in ("setup", "fit", "evaluate"))
        print(f"| {row['n']:,} | {row['disk_gb']:.2f} GB | {row['prepare']['peak_mb']:,.0f} MB | "
              f"{row['prepare']['wall_s']:.1f} s | {row['train']['peak_mb']:,.0f} MB | "
              f"{sampled} MB | "
              f"{row['train']['wall_s']:.1f} s ({row['fit_s']:.1f} s) |")
    if len(rows) >= 2:
        first, last = rows[1] if len(rows) > 2 else rows[0], rows[-1]
        for step in ("prepare", "train"):
            growth = 100 * (last[step]["peak_mb"] / first[step]["peak_mb"] - 1)
            print(f"{step} peak memory from N={first['n']:,} to N={last['n']:,}: {growth:+.1f}% "
                  f"({'met' if growth <= 10 else 'missed'}: target <= +10%)")
    (args.work_dir / "memory.json").write_text(json.dumps(rows, indent=2) + "\n")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
