"""What skipping Hydra's mode probe saves on a command: `conf.hydra_shortcuts.skip_hydras_mode_probe`.

    python benchmarks/mode_probe.py [--repeats 7]

Before running anything Hydra composes the whole config once only to read `hydra.mode`; `main.py`
skips that composition when nothing can set the mode. A `hydra.searchpath=[]` on the command line
(an empty search path: nothing changes) is one of the things that keep Hydra's own probe, so the
same command is timed both ways, in fresh processes, alternating A B A B ...:

  A  probe kept:    python main.py optimizer.lr=-1 hydra.searchpath=[]
  B  probe skipped: python main.py optimizer.lr=-1

`optimizer.lr=-1` is refused after composition, before TensorFlow is imported, so the command is
start-up and composition only: the part of every command the probe adds to. Prints the median CPU
seconds (user + system, the process and its children) and wall seconds of each, and their difference.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ab import report, timed_refused_command

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"A probe kept": ["optimizer.lr=-1", "hydra.searchpath=[]"], "B probe skipped": ["optimizer.lr=-1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for name, arguments in COMMANDS.items():
                times[name].append(timed_refused_command(ROOT / "main.py", arguments, Path(folder),
                                                              "optimizer.lr=-1.0 is invalid"))
    report(times, args.repeats, "saved by skipping the probe")


if __name__ == "__main__":
    main()
