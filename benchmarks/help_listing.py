"""What `main.py --help` saves by not listing every config group: `conf.hydra_shortcuts.list_config_groups_only_when_shown`.

    python benchmarks/help_listing.py [--repeats 7]

Hydra lists every config group (twice: the app's and its own) before it fills the help template,
whether the template shows them or not; this project's template does not. The same command is timed
both ways, in fresh processes, alternating A B A B ...:

  A  listing made:    python -c <mark Hydra's listing as already deferred, then run main.py --help>
  B  listing skipped: python main.py --help

A marks `Hydra.format_config_groups` the way `main.py` recognises its own deferral, so `main.py`
leaves Hydra's eager listing in place; the rest of the command is the same. Prints the median CPU
seconds (user + system) and wall seconds of each, and their difference.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from ab import report

ROOT = Path(__file__).resolve().parents[1]
EAGER = ("import runpy, sys; from hydra._internal.hydra import Hydra; Hydra.format_config_groups.deferred = True; "
         f"sys.argv = [{str(ROOT / 'main.py')!r}, '--help']; sys.path.insert(0, {str(ROOT)!r}); "
         f"runpy.run_path({str(ROOT / 'main.py')!r}, run_name='__main__')")
COMMANDS = {"A listing made": [sys.executable, "-c", EAGER], "B listing skipped": [sys.executable, "main.py", "--help"]}


def timed(command: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "Config groups (group=option)" not in done.stdout:
        raise SystemExit(f"unexpected result of {command}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    outputs = set()
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            cpu, wall, output = timed(command)
            times[name].append((cpu, wall))
            outputs.add(output)
    if len(outputs) != 1:
        raise SystemExit("the two commands printed different help")
    report(times, args.repeats, "saved by not listing")


if __name__ == "__main__":
    main()
