"""Reporting an A/B timing of two commands run alternately: medians, their difference, their ratio."""

from __future__ import annotations

import statistics


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
