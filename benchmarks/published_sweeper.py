"""This project's sweeper against the published hydra-optuna-sweeper, both driving this `main.py`.

    python benchmarks/published_sweeper.py [--trials 30] [--seeds 1 2 3 4 5 6 7 8] [--metric val_loss]
        [--epochs N] [--venv /tmp/bench-sweeps/published-venv] [--work /tmp/bench-sweeps/published]
        [--data-dir /tmp/bench-sweeps/data]

The published plugin needs Optuna 2.x, so it runs in a virtual environment of its own (`--venv`),
made once with:

    python3 -m venv /tmp/bench-sweeps/published-venv
    /tmp/bench-sweeps/published-venv/bin/pip install hydra-optuna-sweeper==1.3.0 optuna==2.10.1 \
        'sqlalchemy<2' \
        tensorflow==2.21.0 keras==3.15.1 tensorboard==2.21.0 hydra-core==1.3.8 omegaconf==2.3.0 \
        scikit-learn==1.9.1 rich==15.0.0 pillow==13.0.0 numpy==2.4.6 matplotlib==3.11.2

(pip resolved it without conflict: Optuna 2.10.1 takes numpy 2.4.6 and SQLAlchemy 1.4.54; its
TPE, sqlite storage and `ask`/`tell` run under them. matplotlib draws each finished run's
pictures, since the project's issue 13; a venv made before that needs it added.)

ours:      python main.py -m hpsearch=mlp optimized_metric=val_loss hydra.sweeper.n_jobs=2
           hydra.sweeper.sampler.seed=<seed> ...
           (the project's sweeper with its default pruner (median, warm-up 5 epochs), two trials
           running at a time, each on one of the two cores; a journal file in the sweep folder.
           `--jobs 1` runs one at a time, and `--ours KEY=VALUE ...` adds overrides, e.g. another pruner setting)
published: <venv>/bin/python main.py -m model=mlp 'hydra.searchpath=[file://<work>/conf]'
           hydra/sweeper=published_optuna optimized_metric=val_loss hydra.sweeper.direction=minimize
           hydra.sweeper.sampler.seed=<seed>
           hydra.sweeper.storage=sqlite:///<work>/<study>.db <the params of conf/hpsearch/mlp.yaml> ...
           (its defaults otherwise: n_jobs=2, i.e. batches of 2 trials that Hydra's basic launcher runs one
           after the other in the sweep process; no pruning: every trial trains all its epochs)

What it takes to make the published plugin drive this project's main.py (no project file changes):

1. Its own virtual environment (above): it requires optuna<3 (it imports UniformDistribution &c.,
   gone from Optuna 3+/5), while the project pins optuna 5.0.0.
2. A sweeper config under a name of its own, in a folder given by `hydra.searchpath`
   (`<work>/conf/hydra/sweeper/published_optuna.yaml`, written by this script): the project's
   `conf/hydra/sweeper/optuna.yaml` and `conf/hydra/sweeper/sampler/tpe.yaml` shadow the plugin's
   structured configs of the same names (the primary config folder comes before Hydra's
   ConfigStore), so `hydra/sweeper=optuna` would select the project's sweeper, which cannot import
   under Optuna 2.10. The file repeats the plugin's `OptunaSweeperConf`/`TPESamplerConfig` defaults
   with the sampler inline (no defaults list, so nothing resolves into the project's sampler group).
3. Not `hpsearch=mlp`: the preset selects the project's sweeper; the search space is given as
   command-line sweeps instead (`model=mlp` plus the four params of conf/hpsearch/mlp.yaml, read
   from that file; the grammar is the same here: no `range`, and `choice([128],...)` of lists is
   encoded as strings like `'[256,128]'`, which Hydra parses back into lists).
4. `hydra.sweeper.direction`: its default is minimize whatever the metric (right for val_loss; for
   val_accuracy it would search for the worst); the script sets it from `--metric`.
5. `hydra.sweeper.study_name=<name>` and `hydra.sweeper.storage=sqlite:///...`: its study is in
   memory by default (nothing to read completion times from), and this project's `hydra.sweep.dir`
   (results_dir/sweeps/<study_name>) needs a name.
6. `hydra.sweeper.sampler.seed=<seed>`: its TPE is unseeded by default (the project seeds 123).
Nothing else (the project's own plugin module imports Optuna only when its sweeper is created, so
Hydra lists it beside the published one without importing Optuna 5 code under Optuna 2); main.py
returns the optimized_metric, which the plugin takes as the trial's value; jobs get no `trial.*`
overrides, so no pruning callback runs.

Measured per sweep: wall time of the whole process, each COMPLETE trial's value and end time, and
the time from the sweep's start until it first reached the published sweep's final best value within
`--margin` (0.005: the noise of one configuration's val_loss, BENCHMARKS.md). A trial's end time
is the modification time of its run folder's `metrics.json`, which the job writes last; the
storage's `datetime_complete` is also read, but the published plugin `tell`s a batch only once all
of it has ended, so there it is late by up to one trial for the first trial of
each batch (both figures are printed). Seeds alternate the order (ours first, then published
first). A seed where ours never reaches the target counts as an infinite ratio in the median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from journals import journal_study

ROOT = Path(__file__).resolve().parents[1]

PUBLISHED_CONFIG = """\
# hydra-optuna-sweeper 1.3.0's OptunaSweeperConf and TPESamplerConfig with their defaults, under a name of
# their own: this project's conf/hydra/sweeper/optuna.yaml and sampler/tpe.yaml shadow the plugin's
# structured configs of the same names. Written by benchmarks/published_sweeper.py.
_target_: hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper
sampler:
  _target_: optuna.samplers.TPESampler
  seed: null
  consider_prior: true
  prior_weight: 1.0
  consider_magic_clip: true
  consider_endpoints: false
  n_startup_trials: 10
  n_ei_candidates: 24
  multivariate: false
  warn_independent_sampling: true
direction: minimize
storage: null
study_name: null
n_trials: 20
n_jobs: 2
max_failure_rate: 0.0
search_space: null
params: null
custom_search_space: null
"""


def preset_params() -> list[str]:
    """The search space of conf/hpsearch/mlp.yaml as command-line sweeps."""
    preset = yaml.safe_load((ROOT / "conf" / "hpsearch" / "mlp.yaml").read_text())
    return [f"{key}={expression}" for key, expression in preset["hydra"]["sweeper"]["params"].items()]


def ours_command(name: str, args: argparse.Namespace) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "-m", "hpsearch=mlp", f"hydra.sweeper.n_jobs={args.jobs}",
            f"hydra.sweeper.n_trials={args.trials}", f"hydra.sweeper.sampler.seed={args.seed}",
            f"hydra.sweeper.study_name={name}", f"optimized_metric={args.metric}", *args.ours]


def published_command(name: str, args: argparse.Namespace) -> list[str]:
    return [str(args.venv / "bin" / "python"), str(ROOT / "main.py"), "-m", "model=mlp",
            f"hydra.searchpath=[file://{args.work / 'conf'}]", "hydra/sweeper=published_optuna",
            f"hydra.sweeper.direction={'minimize' if args.minimize else 'maximize'}",
            f"optimized_metric={args.metric}", f"hydra.sweeper.n_trials={args.trials}",
            f"hydra.sweeper.sampler.seed={args.seed}", f"hydra.sweeper.study_name={name}",
            f"hydra.sweeper.storage=sqlite:///{args.work / (name + '.db')}", *preset_params()]


def ours_trials(sweep: Path, name: str) -> list[tuple[int, float, float]]:
    """(number, value, datetime_complete as a timestamp) of every COMPLETE trial, from the journal."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = journal_study(sweep / "study.journal", name)
    return [(t.number, t.value, t.datetime_complete.timestamp()) for t in study.trials
            if t.state == optuna.trial.TrialState.COMPLETE]


def published_trials(database: Path) -> list[tuple[int, float, float]]:
    """The same from the published plugin's sqlite storage (Optuna 2.10's schema, read with sqlite3)."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT t.number, v.value, t.datetime_complete FROM trials t "
            "JOIN trial_values v ON v.trial_id = t.trial_id "
            "WHERE t.state = 'COMPLETE' AND v.objective = 0 ORDER BY t.number").fetchall()
    return [(number, value, dt.datetime.fromisoformat(complete).timestamp()) for number, value, complete in rows]


def run_sweep(kind: str, name: str, args: argparse.Namespace) -> dict:
    results_dir = args.work / name
    shutil.rmtree(results_dir, ignore_errors=True)
    (args.work / (name + ".db")).unlink(missing_ok=True)
    command = (ours_command if kind == "ours" else published_command)(name, args)
    command += [f"results_dir={results_dir}", f"data_dir={args.data_dir}"]
    if args.epochs is not None:
        command.append(f"trainer.epochs={args.epochs}")
    (args.work / f"{name}.command").write_text(" ".join(command) + "\n")
    started_wall = time.time()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=args.work, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    (args.work / f"{name}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{kind} sweep {name} failed (exit {done.returncode}); see {args.work / (name + '.log')}:\n"
                         + "\n".join(done.stderr.splitlines()[-20:]))
    sweep = results_dir / "sweeps" / name
    stored = ours_trials(sweep, name) if kind == "ours" else published_trials(args.work / (name + ".db"))
    trials = []  # (number, value, end by metrics.json, end by storage), seconds from the sweep's start
    for number, value, complete in stored:
        metrics = sweep / str(number) / "metrics.json"
        ended = metrics.stat().st_mtime if metrics.exists() else complete
        trials.append((number, value, ended - started_wall, complete - started_wall))
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    return {"kind": kind, "name": name, "wall": elapsed, "best": results["best_value"], "trials": trials,
            "complete": len(trials)}


def time_to(trials: list[tuple], target: float, column: int, minimize: bool) -> float | None:
    """Seconds until the first COMPLETE trial at least as good as target ended (None: never)."""
    times = [trial[column] for trial in trials
             if (trial[1] <= target + 1e-9 if minimize else trial[1] >= target - 1e-9)]
    return min(times) if times else None


def improvements(trials: list[tuple], minimize: bool) -> str:
    """Each new best value of a sweep, by when its trial ended."""
    sign = -1 if minimize else 1
    steps, best = [], float("-inf")
    for number, value, ended, _ in sorted(trials, key=lambda trial: trial[2]):
        if sign * value > best:
            best = sign * value
            steps.append(f"{ended:.0f}: {value:.4f} (#{number})")
    return ", ".join(steps)


def show(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)),
                        help="TPE seeds: one pair of sweeps (ours, published; the order alternating) per seed")
    parser.add_argument("--metric", default="val_loss", help="optimized_metric of both sweeps")
    parser.add_argument("--epochs", type=int, default=None, help="trainer.epochs (default: 30, the project's)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="ours: hydra.sweeper.n_jobs (2, the published plugin's default n_jobs)")
    parser.add_argument("--ours", nargs="*", default=[], help="more overrides for our sweep, e.g. "
                        "hydra.sweeper.pruner.n_warmup_steps=5")
    parser.add_argument("--margin", type=float, default=0.005,
                        help="target = the published best within this (the noise of one configuration's result)")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/bench-sweeps/published-venv"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-sweeps/published"))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-sweeps/data"))
    args = parser.parse_args()
    args.minimize = args.metric.endswith(("loss", "mae", "rmse"))
    args.work, args.data_dir, args.venv = args.work.resolve(), args.data_dir.resolve(), args.venv.absolute()
    if not (args.venv / "bin" / "python").exists():
        raise SystemExit(f"no virtual environment at {args.venv}: make it as the docstring says")
    (args.work / "conf" / "hydra" / "sweeper").mkdir(parents=True, exist_ok=True)
    (args.work / "conf" / "hydra" / "sweeper" / "published_optuna.yaml").write_text(PUBLISHED_CONFIG)
    if not (args.data_dir / "digits" / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "data.prepare", "digits", "--data-dir", str(args.data_dir)],
                       cwd=ROOT, check=True)
    packages = ("hydra-optuna-sweeper", "optuna", "hydra-core", "sqlalchemy", "numpy", "tensorflow")
    script = f"import importlib.metadata as m; print(', '.join(f'{{p}} {{m.version(p)}}' for p in {packages!r}))"
    versions = subprocess.run([str(args.venv / "bin" / "python"), "-c", script],
                              capture_output=True, text=True, check=True).stdout.strip()
    print(f"published: {versions}")
    print(f"{args.trials} trials, {args.metric}, TPE seeds {args.seeds}, epochs {args.epochs or 'the default (30)'}",
          flush=True)
    stamp = time.strftime("%H%M%S")
    pairs = []
    for index, seed in enumerate(args.seeds):
        args.seed = seed
        order = ("ours", "published") if index % 2 == 0 else ("published", "ours")
        rows = {kind: run_sweep(kind, f"{kind}_{stamp}_s{seed}", args) for kind in order}
        best = rows["published"]["best"]
        target = best + args.margin if args.minimize else best - args.margin
        for kind in order:
            row = rows[kind]
            row["to_target"] = time_to(row["trials"], target, 2, args.minimize)
            row["to_target_stored"] = time_to(row["trials"], target, 3, args.minimize)
            print(f"seed {seed}: {kind:9s} wall {row['wall']:7.1f} s  best {row['best']:.4f}  "
                  f"{row['complete']} complete  reached {target:.4f} after {show(row['to_target'])} "
                  f"(by storage datetime_complete: {show(row['to_target_stored'])})", flush=True)
            print(f"    best so far (s: value, trial): {improvements(row['trials'], args.minimize)}", flush=True)
        pairs.append(rows)
        ours, published = rows["ours"]["to_target"], rows["published"]["to_target"]
        if ours is not None:
            print(f"seed {seed}: time to {target:.4f} ours / published: {ours / published:.3f}; "
                  f"wall ours / published: {rows['ours']['wall'] / rows['published']['wall']:.3f}", flush=True)
        else:
            print(f"seed {seed}: ours never reached {target:.4f} (its best {rows['ours']['best']:.4f})", flush=True)
    print(f"\nmedians over {len(pairs)} seed(s):")
    for kind in ("ours", "published"):
        reached = [p[kind]["to_target"] for p in pairs if p[kind]["to_target"] is not None]
        print(f"  {kind:9s}: wall {statistics.median(p[kind]['wall'] for p in pairs):.1f} s, best "
              f"{statistics.median(p[kind]['best'] for p in pairs):.4f}, time to target "
              f"{show(statistics.median(reached) if reached else None)} ({len(reached)} of {len(pairs)} reached it)")
    # a seed where ours never reached the target counts as ours taking its whole wall time and more: inf
    ratios = [p["ours"]["to_target"] / p["published"]["to_target"] if p["ours"]["to_target"] is not None
              else float("inf") for p in pairs]
    walls = [p["ours"]["wall"] / p["published"]["wall"] for p in pairs]
    print(f"  wall-time ratio ours / published: {statistics.median(walls):.3f}")
    ratio = statistics.median(ratios)
    print(f"  time-to-target ratio ours / published, per seed: {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"median {ratio:.3f} (target <= 0.33: {'met' if ratio <= 0.33 else 'missed'})")


if __name__ == "__main__":
    main()
