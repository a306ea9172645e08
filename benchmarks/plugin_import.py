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
import subprocess
import tempfile
from pathlib import Path

from ab import report, timed_refused_command

ROOT = Path(__file__).resolve().parents[1]


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
                    times[name].append(timed_refused_command(project / "main.py", ["optimizer.lr=-1"], Path(folder),
                                                              "optimizer.lr=-1.0 is invalid"))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(earlier)], check=False)
    report(times, args.repeats, "saved by the lazy import")


if __name__ == "__main__":
    main()
