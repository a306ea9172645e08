"""Replay unpruned sweeps through Optuna's pruners offline: which trials each pruner would stop, and what
that would have cost, without running a sweep per pruner.

    python benchmarks/pruner_replay.py /tmp/pruning-*/results/sweeps/none_*/study.journal
        [--start-up 2.5] [--after-complete 0.9] [--noise 0.005]

The journals are those `benchmarks/pruning.py` leaves in its work folder for its `none` sweeps (every trial
trained to the end, so every epoch's validation value is there). Each sweep's trials are fed, in the order
they ran, to a fresh study with the pruner: every epoch's value is reported, and the trial stops where the
pruner says so. Its cost is then its start-up (`--start-up`: composing its config, building the model and
its data, tracing its steps, the first epoch; seconds, read off a sweep's log), the epochs it ran (each at
the trial's own measured pace), and, if it finished, its final evaluation (`--after-complete`).

What the replay cannot show: in a real pruned sweep, TPE proposes from the trials that finished, so the
trials after the first pruned one differ. A setting that looks safe here can lose the best in a real sweep
(BENCHMARKS.md, "Pruning harder after the warm-up"): use it to rule settings out and to bound what pruning
can save, then measure the survivors with `benchmarks/pruning.py`.
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable

from journals import journal_study

PRUNERS: dict[str, Callable] = {
    "median, warm-up 5": lambda P: P.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
    "median, warm-up 10": lambda P: P.MedianPruner(n_startup_trials=5, n_warmup_steps=10),
    "median, warm-up 1": lambda P: P.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    "best 40%, warm-up 5": lambda P: P.PercentilePruner(40.0, n_startup_trials=5, n_warmup_steps=5),
    "best third, warm-up 5": lambda P: P.PercentilePruner(33.3, n_startup_trials=5, n_warmup_steps=5),
    "best third, warm-up 3": lambda P: P.PercentilePruner(33.3, n_startup_trials=5, n_warmup_steps=3),
    "best third, warm-up 8": lambda P: P.PercentilePruner(33.3, n_startup_trials=5, n_warmup_steps=8),
    "best quarter, warm-up 5": lambda P: P.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=5),
    "successive halving from 5": lambda P: P.SuccessiveHalvingPruner(min_resource=5, reduction_factor=3),
    "hyperband from 5": lambda P: P.HyperbandPruner(min_resource=5, max_resource=30),
    "population median, warm-up 5": lambda P: population_pruner(P, 50.0, 5),
    "population median, warm-up 3": lambda P: population_pruner(P, 50.0, 3),
    "population best third, warm-up 5": lambda P: population_pruner(P, 33.3, 5),
    # the bound: every trial after the first five stopped at the end of the warm-up
    "all stopped at epoch 5": lambda P: P.PercentilePruner(1e-9, n_startup_trials=5, n_warmup_steps=5),
}


def population_pruner(P, percentile: float, warm_up: int):
    """A candidate whose bar does not rise as the sweep grows: Optuna's percentile pruners compare with COMPLETE
    trials only, the ones pruning let through; this one compares with every finished trial, a pruned one's last
    value carried on to later epochs (five complete trials first, as the others)."""
    import numpy as np
    from optuna.trial import TrialState

    class Population(P.BasePruner):
        def prune(self, study, trial) -> bool:
            step = trial.last_step
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
            if step is None or step < warm_up or sum(t.state == TrialState.COMPLETE for t in done) < 5:
                return False
            values = [t.intermediate_values[max(s for s in t.intermediate_values if s <= step)]
                      for t in done if t.intermediate_values and min(t.intermediate_values) <= step]
            return bool(values) and min(trial.intermediate_values.values()) > np.percentile(values, percentile)

    return Population()


def load_trials(journal: str) -> list:
    return [t for t in journal_study(journal).trials if t.state.name == "COMPLETE"]


def replay(trials: list, pruner, start_up: float, after_complete: float, noise: float) -> dict[str, float]:
    """Cost over the unpruned sweep's, how far the kept best is from the unpruned best, trials stopped, and
    when (as a fraction of the unpruned sweep's time) the kept trials first came within `noise` of it."""
    import optuna

    study = optuna.create_study(direction="minimize", pruner=pruner)
    best = min(t.value for t in trials)
    unpruned = cost = 0.0
    kept, reached = float("inf"), None
    for past in trials:
        seconds = (past.datetime_complete - past.datetime_start).total_seconds()
        epochs = sorted(past.intermediate_values)
        pace = max(seconds - start_up - after_complete, 0.0) / max(len(epochs) - 1, 1)
        unpruned += seconds
        trial, stopped = study.ask(), None
        for epoch in epochs:
            trial.report(past.intermediate_values[epoch], epoch)
            if epoch < epochs[-1] and trial.should_prune():
                stopped = epoch
                break
        if stopped is None:
            study.tell(trial, past.value)
            cost += seconds
            kept = min(kept, past.value)
            if reached is None and kept <= best + noise:
                reached = cost
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            cost += start_up + (stopped - 1) * pace
    return {"time": cost / unpruned, "lost": kept - best, "pruned": sum(t.state.name == "PRUNED" for t in study.trials),
            "reached": float("inf") if reached is None else reached / unpruned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journals", nargs="+", help="study.journal files of unpruned sweeps (minimised metric)")
    parser.add_argument("--start-up", type=float, default=2.5, help="seconds a trial costs before its epochs")
    parser.add_argument("--after-complete", type=float, default=0.9, help="seconds a finished trial's evaluation")
    parser.add_argument("--noise", type=float, default=0.005)
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sweeps = [load_trials(journal) for journal in args.journals]
    print(f"{len(sweeps)} unpruned sweeps replayed; noise {args.noise}; start-up {args.start_up} s a trial")
    for name, make in PRUNERS.items():
        rows = [replay(trials, make(optuna.pruners), args.start_up, args.after_complete, args.noise)
                for trials in sweeps]
        kept = sum(row["lost"] <= args.noise for row in rows)
        print(f"  {name:34s} time {statistics.median(r['time'] for r in rows):.2f}  best kept in {kept} of {len(rows)}"
              f"  reached it by half the unpruned time in {sum(r['reached'] <= 0.5 for r in rows)}"
              f"  pruned per sweep {[r['pruned'] for r in rows]}")


if __name__ == "__main__":
    main()
