"""What pruning buys and what it costs: the MLP search on digits with each pruner against the same search
without one, over several sampler seeds.

    python benchmarks/pruning.py [--trials 30] [--seeds 1 2 3 4 5 6 7 8] [--metric val_loss]
                                 [--pruners hyperband none] [--extra hyperband:hydra.sweeper.pruner.min_resource=4]

Every sweep is `python main.py -m hpsearch=mlp optimized_metric=<metric>` with the seed's sampler and the
same training seed, one trial at a time (`n_jobs=1`: the order trials finish in, and so what TPE learns,
does not depend on the machine's load), run as whole processes one after the other, the pruners' order
rotating from seed to seed, in a temporary folder. `--extra name:override` adds a variant of a pruner
(its settings as overrides) under its own name. For each seed it reports each sweep's wall time, best
value, trials by state, and when (seconds from its first trial's start, from the study's own timestamps) it
first came within `--noise` of the unpruned sweep's best, also as a fraction of the unpruned sweep's whole
wall time (what a researcher waiting for the best configuration saves); then the medians and counts over seeds.
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
from journals import journal_study

ROOT = Path(__file__).resolve().parents[1]


def run_sweep(work: Path, name: str, overrides: list[str], trials: int, seed: int, metric: str
              ) -> tuple[float, dict, list[tuple[float, float]]]:
    """Wall time, optimization_results.yaml, and (seconds from the first trial's start, value) per
    complete or pruned trial, in the order they finished."""
    command = [sys.executable, str(ROOT / "main.py"), "-m", "hpsearch=mlp", *overrides, f"optimized_metric={metric}",
               f"hydra.sweeper.n_trials={trials}", f"hydra.sweeper.study_name={name}", "hydra.sweeper.n_jobs=1",
               f"hydra.sweeper.sampler.seed={seed}", "hydra.sweeper.plots=false", f"results_dir={work / 'results'}"]
    started = time.perf_counter()
    subprocess.run(command, cwd=work, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    sweep_dir = work / "results" / "sweeps" / name
    study = journal_study(sweep_dir / "study.journal", name)
    first = min(t.datetime_start for t in study.trials)
    finished = sorted((t.datetime_complete, t.value) for t in study.trials
                      if t.value is not None and t.state.name == "COMPLETE")
    return elapsed, yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text()), [
        ((when - first).total_seconds(), value) for when, value in finished]


def reached(history: list[tuple[float, float]], target: float, minimize: bool) -> float | None:
    """When a sweep's complete trials first reached `target` (None: never)."""
    for seconds, value in history:
        if (value <= target) if minimize else (value >= target):
            return seconds
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--metric", default="val_loss")
    parser.add_argument("--pruners", nargs="+", default=["hyperband", "none"])
    parser.add_argument("--extra", nargs="*", default=[], help="name:override[,override] variants of a pruner")
    parser.add_argument("--noise", type=float, default=0.005, help="how far from the unpruned best still counts")
    args = parser.parse_args()
    minimize = args.metric.endswith(("loss", "mae", "rmse"))
    variants = {name: [f"hydra/sweeper/pruner={name}"] for name in args.pruners}
    for extra in args.extra:
        name, _, settings = extra.partition(":")
        base = name.split("+")[0]
        variants[name] = [f"hydra/sweeper/pruner={base}", *settings.split(",")]
    work = Path(tempfile.mkdtemp(prefix="pruning-"))
    print(f"work folder (its sweeps' journals, for benchmarks/pruner_replay.py): {work}", flush=True)
    table: dict[str, list] = {name: [] for name in variants}
    names = list(variants)
    for index, seed in enumerate(args.seeds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            run_name = f"{name.replace('+', '_')}_{seed}"
            table[name].append((seed, *run_sweep(work, run_name, variants[name], args.trials, seed, args.metric)))
            elapsed, results, _ = table[name][-1][1:]
            print(f"seed {seed}: {name:24s} {elapsed:7.1f}s best {args.metric} {results['best_value']:.4f} "
                  f"trials {results['trials']}", flush=True)
    unpruned = {seed: results["best_value"] for seed, _, results, _ in table["none"]}
    print(f"\n{args.trials} trials, {len(args.seeds)} seeds, {args.metric}, noise {args.noise}:")
    for name in names:
        rows = table[name]
        times = [elapsed for _, elapsed, _, _ in rows]
        line = f"  {name:24s} median wall {statistics.median(times):6.1f}s"
        if name != "none":
            full = {seed: elapsed for seed, elapsed, _, _ in table["none"]}
            ratios = [elapsed / full[seed] for seed, elapsed, _, _ in rows]
            within = [seed for seed, _, results, _ in rows if abs(results["best_value"] - unpruned[seed]) <= args.noise
                      or (results["best_value"] < unpruned[seed] if minimize else results["best_value"] > unpruned[seed])]
            line += (f", time ratio to none {statistics.median(ratios):.3f} (per seed "
                     f"{', '.join(f'{r:.2f}' for r in ratios)}), within noise of none's best in {len(within)} "
                     f"of {len(rows)} seeds")
        bests = ", ".join(f"{results['best_value']:.4f}" for _, _, results, _ in rows)
        print(line + f"\n    bests per seed: {bests}")
        if name != "none":
            times_to, of_none = [], []
            for seed, _, _, history in rows:
                target = unpruned[seed] + (args.noise if minimize else -args.noise)
                mine = reached(history, target, minimize)
                theirs = reached(dict((s, h) for s, _, _, h in table["none"])[seed], target, minimize)
                times_to.append(f"{seed}: {'never' if mine is None else f'{mine:.0f}s'} vs {theirs:.0f}s")
                of_none.append(float("inf") if mine is None else mine / full[seed])
            print(f"    time to none's best (within noise), this vs none: {'; '.join(times_to)}")
            print(f"    that time over none's whole wall time: median {statistics.median(of_none):.2f}, <= 0.5 in "
                  f"{sum(r <= 0.5 for r in of_none)} of {len(of_none)} seeds "
                  f"({', '.join(f'{r:.2f}' for r in of_none)})")


if __name__ == "__main__":
    main()
