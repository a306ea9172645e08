"""Reporting an A/B timing of two commands run alternately: medians, their difference, their ratio."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed_refused_command(main: Path, arguments: list[str], folder: Path, refusal: str) -> tuple[float, float]:
    """(CPU, wall) seconds of `python <main> arguments` in a fresh process, which must be refused (exit 2,
    `refusal` in its error): start-up and composition, no TensorFlow. CPU is user + system of the process
    and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(main), *arguments, f"results_dir={folder}", f"data_dir={folder}"],
                          capture_output=True, text=True, cwd=folder)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 2 or refusal not in done.stderr:
        raise SystemExit(f"unexpected result of {main} {arguments}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def report(times: dict[str, list[tuple[float, float]]], repeats: int, saved: str) -> None:
    """Print each command's median CPU and wall seconds, then what B saves over A and B / A.

    `times` maps the two commands' names, A first, to their (cpu, wall) of each repeat."""
    medians = {name: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
               for name, runs in times.items()}
    for name, (cpu, wall) in medians.items():
        print(f"{name}: CPU {cpu:.3f} s, wall {wall:.3f} s (medians of {repeats})")
    (cpu_a, wall_a), (cpu_b, wall_b) = medians.values()
    print(f"{saved}: CPU {cpu_a - cpu_b:.3f} s, wall {wall_a - wall_b:.3f} s; "
          f"ratio B / A: CPU {cpu_b / cpu_a:.3f}, wall {wall_b / wall_a:.3f}")
