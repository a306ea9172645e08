"""What pruning buys: the MLP search on digits with Hyperband pruning against the same search without.

    python benchmarks/pruning.py [--trials 30] [--repeats 1]

Both sweeps are `python main.py -m hpsearch=mlp` with the same sampler seed and training seed, run
as whole processes one after the other (alternating when repeated) in a temporary folder; the
pruner is the only difference (`hydra/sweeper/pruner=hyperband` vs `none`). Reports the wall
time ratio and each sweep's best validation accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_sweep(work: Path, name: str, pruner: str, trials: int) -> tuple[float, dict]:
    command = [sys.executable, str(ROOT / "main.py"), "-m", "hpsearch=mlp", f"hydra/sweeper/pruner={pruner}",
               f"hydra.sweeper.n_trials={trials}", f"hydra.sweeper.study_name={name}"]
    started = time.perf_counter()
    subprocess.run(command, cwd=work, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    return elapsed, yaml.safe_load((work / "results" / "sweeps" / name / "optimization_results.yaml").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="copy the sweeps here (to promote a best configuration)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pruning-"))
    rows: dict[str, list] = {"hyperband": [], "none": []}
    for repeat in range(args.repeats):
        for pruner in ("hyperband", "none") if repeat % 2 == 0 else ("none", "hyperband"):
            elapsed, results = run_sweep(work, f"{pruner}_{repeat}", pruner, args.trials)
            rows[pruner].append((elapsed, results))
            print(f"repeat {repeat + 1}: pruner={pruner:9s} {elapsed:7.1f}s best val_accuracy {results['best_value']:.4f} "
                  f"trials {results['trials']}", flush=True)
    time_pruned = statistics.median(r[0] for r in rows["hyperband"])
    time_full = statistics.median(r[0] for r in rows["none"])
    best_pruned = statistics.median(r[1]["best_value"] for r in rows["hyperband"])
    best_full = statistics.median(r[1]["best_value"] for r in rows["none"])
    print(f"\n{args.trials} trials, medians over {args.repeats} repeat(s):")
    print(f"  hyperband: {time_pruned:.1f}s, best val_accuracy {best_pruned:.4f}")
    print(f"  none:      {time_full:.1f}s, best val_accuracy {best_full:.4f}")
    print(f"  time ratio pruned / unpruned: {time_pruned / time_full:.3f}; best value difference {best_full - best_pruned:+.4f}")
    if args.keep:
        subprocess.run(["cp", "-r", str(work / "results" / "sweeps"), str(args.keep)], check=True)


if __name__ == "__main__":
    main()
