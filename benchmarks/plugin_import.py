"""What importing the sweeper plugin without Optuna saves on every command.

    python benchmarks/plugin_import.py [--repeats 7] [--before 0981851]

Hydra imports every module of `hydra_plugins/` on each command to list its plugins. Until commit 9c96c24
the sweeper's module imported `hpsearch.sweeper`, and with it Optuna, whether the command swept or not;
now it imports Optuna only when a sweep creates the sweeper. The same refused command (`optimizer.lr=-1`:
start-up and composition, no TensorFlow) is timed in fresh processes, alternating A B A B ...:

  A  main.py of a git worktree of `--before` (the commit before the change)
  B  main.py of this checkout

Prints the median CPU seconds (user + system, the process and its children) and wall seconds of each.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ab import report

ROOT = Path(__file__).resolve().parents[1]


def timed(project: Path, folder: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(project / "main.py"), "optimizer.lr=-1", f"results_dir={folder}",
                           f"data_dir={folder}"], capture_output=True, text=True, cwd=folder)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 2 or "optimizer.lr=-1.0 is invalid" not in done.stderr:
        raise SystemExit(f"unexpected result of {project}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", default="0981851")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        earlier = Path(folder) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(earlier), args.before],
                       check=True, capture_output=True)
        try:
            projects = {f"A plugin importing Optuna ({args.before})": earlier, "B plugin importing it lazily": ROOT}
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in projects}
            for _ in range(args.repeats):
                for name, project in projects.items():
                    times[name].append(timed(project, Path(folder)))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(earlier)], check=False)
    report(times, args.repeats, "saved by the lazy import")


if __name__ == "__main__":
    main()
