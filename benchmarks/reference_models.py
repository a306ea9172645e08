"""The reference models on digits: `resnet` against the CNN's accuracy and a plain Keras script's time,
`vae` against predicting the mean image.

    python benchmarks/reference_models.py resnet [--seeds 1,2,3,42] [--timing-runs 3] [--epochs 30]
                                                 [--experiment digits_resnet20] [--also-commit <git rev>]
    python benchmarks/reference_models.py vae [--seeds 1,2,3] [--epochs 30]

resnet: `python main.py model=resnet seed=<s>` (or `experiment=<name> seed=<s>`, a recipe's optimizer, schedule
and augmentation) for each seed (test accuracy of the best checkpoint), then
whole-process wall time, alternating `--timing-runs` times, against `benchmarks/plain_keras_resnet.py`,
which trains the same network (built by `models.resnet`'s function, nothing else of the project) with
`model.fit` on the same splits, epochs and batch size: ratio of the medians, main.py / plain Keras.
`--also-commit <rev>` times that commit's main.py too, in the same alternation (a git worktree of it in the
scratch folder): what a change of the project did to the same measurement.
vae: `python main.py experiment=digits_vae seed=<s>`, then the test split's mean squared error, in raw
pixel units (0-16), of each image's reconstruction through the posterior mean, against that of the
train split's mean image: the ratio (target <= 0.5).
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


CPU_SECONDS: list[float] = []  # user + system time of each timed process, in the order they ran


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    """Wall time and stdout of a process; its CPU time (user + system, its threads and children) is appended
    to CPU_SECONDS: on a shared machine whose wall times swing, the CPU time is the steadier measure."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, out


def run_main(work: Path, *args: str, project: Path = ROOT) -> tuple[float, Path]:
    """Wall time of `python main.py args` (of `project`, default this one) and the run folder it wrote."""
    wall, _ = timed([sys.executable, str(project / "main.py"), *args, f"data_dir={work / 'data'}",
                     f"results_dir={work / 'results'}"], work)
    newest = max((work / "results").glob("*/*/*/metrics.json"), key=lambda p: p.stat().st_mtime)
    return wall, newest.parent


def resnet(args: argparse.Namespace, work: Path) -> None:
    common = ["model=resnet", f"trainer.epochs={args.epochs}"]
    recipe = [f"experiment={args.experiment}", f"trainer.epochs={args.epochs}"] if args.experiment else common
    accuracies = {}
    for seed in args.seeds:
        _, run = run_main(work, *recipe, f"seed={seed}")
        accuracies[seed] = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
        print(f"seed {seed}: test accuracy {accuracies[seed]:.4f}", flush=True)
    folder = work / "data" / "digits"
    plain = [sys.executable, str(ROOT / "benchmarks" / "plain_keras_resnet.py"), str(folder), str(args.epochs), "32"]
    walls: dict[str, list[float]] = {"main.py": [], "plain keras": []}
    cpus: dict[str, list[float]] = {"main.py": [], "plain keras": []}
    other = None
    if args.also_commit and args.timing_runs:
        other = work / f"main-at-{args.also_commit}"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.also_commit],
                       check=True, capture_output=True)
        walls[f"main.py at {args.also_commit}"] = []
        cpus[f"main.py at {args.also_commit}"] = []
    for index in range(args.timing_runs):
        wall, out = timed(plain, work)
        walls["plain keras"].append(wall)
        cpus["plain keras"].append(CPU_SECONDS[-1])
        plain_accuracy = json.loads(out.strip().splitlines()[-1])["test_accuracy"]
        wall, _ = run_main(work, *common, "seed=42")
        walls["main.py"].append(wall)
        cpus["main.py"].append(CPU_SECONDS[-1])
        if other is not None:
            walls[f"main.py at {args.also_commit}"].append(run_main(work, *common, "seed=42", project=other)[0])
            cpus[f"main.py at {args.also_commit}"].append(CPU_SECONDS[-1])
        print(f"timing {index + 1}/{args.timing_runs}: " + " | ".join(
            f"{side} {values[-1]:.1f}s (CPU {cpus[side][-1]:.1f}s)" for side, values in walls.items()) +
            f"; plain's test accuracy {plain_accuracy:.4f}", flush=True)
    print(f"\nresnet depth 20 ({args.experiment or 'model defaults'}), {args.epochs} epochs: test accuracy median "
          f"{statistics.median(accuracies.values()):.4f} over seeds {', '.join(map(str, args.seeds))}")
    if not args.timing_runs:
        return
    if other is not None:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=False)
    for measure, values in (("wall", walls), ("CPU", cpus)):
        medians = {side: statistics.median(times) for side, times in values.items()}
        print(f"whole process {measure} time, medians of {args.timing_runs} alternating runs: " + ", ".join(
            f"{side} {median:.1f}s" for side, median in medians.items()) + "; ratios to plain keras: " + ", ".join(
            f"{side} {median / medians['plain keras']:.3f}" for side, median in medians.items()
            if side != "plain keras"))


def vae(args: argparse.Namespace, work: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from data.prepare import load_split
    from runs.folder import load_preprocessing, load_run_config
    from runs.stages.trained_run import load_trained_model

    ratios = []
    for seed in args.seeds:
        _, run = run_main(work, "experiment=digits_vae", f"trainer.epochs={args.epochs}", f"seed={seed}")
        config = load_run_config(run)
        preprocessing = load_preprocessing(run, config)
        state = json.loads((run / "checkpoints" / "state.json").read_text())
        model = load_trained_model(config, run / "checkpoints" / f"epoch_{state['best_epoch']}.keras", preprocessing)
        train, _ = load_split(work / "data" / "digits", "train", [8, 8, 1])
        test, _ = load_split(work / "data" / "digits", "test", [8, 8, 1])
        reconstruction = model.predict_outputs(preprocessing.apply(test.astype("float32")))["reconstruction"]
        error = float(np.mean((reconstruction - test) ** 2))
        baseline = float(np.mean((train.mean(axis=0) - test) ** 2))
        ratios.append(error / baseline)
        print(f"seed {seed}: reconstruction MSE {error:.3f}, mean image MSE {baseline:.3f}, ratio {ratios[-1]:.3f}",
              flush=True)
    print(f"\nvae, {args.epochs} epochs: ratio median {statistics.median(ratios):.3f} (target <= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("resnet", "vae"))
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=None)
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--experiment", default=None, help="resnet: the accuracy runs' recipe (timing: defaults)")
    parser.add_argument("--also-commit", default=None, help="resnet: time this git commit's main.py too")
    add_folder_arguments(parser)
    args = parser.parse_args()
    args.seeds = args.seeds or ([1, 2, 3, 42] if args.model == "resnet" else [1, 2, 3])
    run_in_scratch(args, f"reference-{args.model}", resnet if args.model == "resnet" else vae)


if __name__ == "__main__":
    main()
