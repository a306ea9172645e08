"""Two trials at a time: the sweeper's asynchronous mode against Hydra's batches (joblib launcher).

    python benchmarks/async_sweeps.py [--trials 30] [--repeats 2] [--jobs 2] [--epochs N]
                                      [--work /tmp/bench-sweeps/async] [--data-dir /tmp/bench-sweeps/data]

Both sweeps are `python main.py -m hpsearch=mlp` on digits (TPE + the default Hyperband pruner,
`hydra.sweeper.n_jobs=2`), whole processes run one after the other:

    async:        the default launcher: the sweeper keeps 2 trials running, each in a process forked
                  for it, and starts the next as soon as one ends or is pruned; each trial gets its
                  share of the cores (`trainer.threads` = cores / 2, the sweeper's default);
    batch:        hydra/launcher=joblib hydra.launcher.n_jobs=2 hydra.sweeper.threads_per_trial=null:
                  2 trials launched together, the next 2 only once both have ended (the published
                  plugin's way), each trial's TensorFlow on every core: the batch mode as it was;
    batch_shared: the same batches, with each trial on its share of the cores, as async.

Each round runs async, batch, batch_shared (A B C A B C ...) with a fresh study name and results
folder per sweep and the same sampler seed for every sweep of a round (123 + round). Reports each
sweep's wall time, best `val_accuracy` (optimization_results.yaml), trial states and mean trial
duration (trials.csv), the CPU seconds of the sweep and its children, and the epochs its trials
trained (metrics.json); then the medians, the wall-time ratio async / batch, and the ratio of wall
time per epoch trained: the searches take different paths (which trials are pruned depends on when
others report), so a sweep that happened to complete more trials takes longer for that alone.
`--epochs` overrides `trainer.epochs` (default: the preset's, 30).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODES = {
    "async": [],
    "batch": ["hydra/launcher=joblib", "hydra.launcher.n_jobs={jobs}", "hydra.sweeper.threads_per_trial=null"],
    "batch_shared": ["hydra/launcher=joblib", "hydra.launcher.n_jobs={jobs}"],
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sweep(mode: str, name: str, seed: int, args: argparse.Namespace) -> dict:
    results_dir = args.work / name
    shutil.rmtree(results_dir, ignore_errors=True)
    command = [sys.executable, str(ROOT / "main.py"), "-m", "hpsearch=mlp",
               f"hydra.sweeper.n_trials={args.trials}", f"hydra.sweeper.n_jobs={args.jobs}",
               f"hydra.sweeper.study_name={name}", f"hydra.sweeper.sampler.seed={seed}",
               f"results_dir={results_dir}", f"data_dir={args.data_dir}",
               *(option.format(jobs=args.jobs) for option in MODES[mode])]
    if args.epochs is not None:
        command.append(f"trainer.epochs={args.epochs}")
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=args.work, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu = children_cpu() - cpu
    sweep = results_dir / "sweeps" / name
    (args.work / f"{name}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{mode} sweep {name} failed (exit {done.returncode}); see {args.work / (name + '.log')}:\n"
                         + "\n".join(done.stderr.splitlines()[-15:]))
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    with open(sweep / "trials.csv", newline="") as file:
        trials = list(csv.DictReader(file))
    states = {state: sum(t["state"] == state for t in trials) for state in ("COMPLETE", "PRUNED", "FAIL")}
    epochs = sum(epochs_run(sweep / t["number"]) for t in trials)
    durations = [float(t["duration_s"]) for t in trials if t.get("duration_s")]
    return {"mode": mode, "name": name, "seed": seed, "wall": elapsed, "cpu": cpu, "best": results["best_value"],
            "states": states, "mean_trial": statistics.mean(durations) if durations else float("nan"),
            "epochs": epochs, "per_epoch": elapsed / max(1, epochs)}


def epochs_run(trial_dir: Path) -> int:
    """Epochs a trial trained (pruned or not), from its metrics.json."""
    metrics = trial_dir / "metrics.json"
    return json.loads(metrics.read_text())["epochs_run"] if metrics.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="trainer.epochs (default: the preset's, 30)")
    parser.add_argument("--seed", type=int, default=123, help="sampler seed of round 1 (round r: seed + r - 1)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-sweeps/async"))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-sweeps/data"))
    args = parser.parse_args()
    args.work = args.work.resolve()
    args.data_dir = args.data_dir.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    if not (args.data_dir / "digits" / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "data.prepare", "digits", "--data-dir", str(args.data_dir)],
                       cwd=ROOT, check=True)
    epochs = f"trainer.epochs={args.epochs} (reduced from the preset's 30)" if args.epochs else "the preset's 30 epochs"
    print(f"{args.trials} trials of hpsearch=mlp on digits, TPE + Hyperband, n_jobs={args.jobs}, {epochs}; "
          f"{args.repeats} round(s) of {', '.join(MODES)}", flush=True)
    rows: dict[str, list[dict]] = {mode: [] for mode in MODES}
    stamp = time.strftime("%H%M%S")
    for round_ in range(args.repeats):
        seed = args.seed + round_
        for mode in MODES:
            row = run_sweep(mode, f"{mode}_{stamp}_r{round_ + 1}", seed, args)
            rows[mode].append(row)
            s = row["states"]
            print(f"round {round_ + 1} seed {seed}: {mode:12s} {row['wall']:7.1f} s  "
                  f"best val_accuracy {row['best']:.4f}  "
                  f"{s['COMPLETE']} complete, {s['PRUNED']} pruned, {s['FAIL']} failed  "
                  f"mean trial {row['mean_trial']:.1f} s  CPU {row['cpu']:.0f} s  {row['epochs']} epochs, "
                  f"{row['per_epoch']:.2f} s of wall time an epoch", flush=True)
    wall = {mode: statistics.median(r["wall"] for r in rows[mode]) for mode in MODES}
    best = {mode: statistics.median(r["best"] for r in rows[mode]) for mode in MODES}
    cpu = {mode: statistics.median(r["cpu"] for r in rows[mode]) for mode in MODES}
    per_epoch = {mode: statistics.median(r["per_epoch"] for r in rows[mode]) for mode in MODES}
    print(f"\nmedians over {args.repeats} round(s):")
    for mode in MODES:
        print(f"  {mode:12s}: {wall[mode]:7.1f} s, best val_accuracy {best[mode]:.4f}, CPU {cpu[mode]:.0f} s, "
              f"{per_epoch[mode]:.3f} s an epoch")
    for batch in ("batch", "batch_shared"):
        ratio = wall["async"] / wall[batch]
        print(f"  wall-time ratio async / {batch}: {ratio:.3f} (target <= 0.8: {'met' if ratio <= 0.8 else 'missed'});"
              f" best value difference async - {batch} {best['async'] - best[batch]:+.4f}; wall time an epoch "
              f"trained, async / {batch}: {per_epoch['async'] / per_epoch[batch]:.3f}")


if __name__ == "__main__":
    main()
