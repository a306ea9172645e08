"""The table of all runs, and what to do with them:

    python -m runs list [model=cnn status=finished since=2026-11-01 ...] [--sort val_accuracy] [--format table]
    python -m runs compare <run A> <run B>
    python -m runs clean [--yes]          # a dry run unless --yes

`list` shows every run under results/ (single runs, multirun jobs, sweep trials): folder, model,
dataset, experiment, start, status (finished, pruned, interrupted, failed), epochs, the
hyper-parameters that differ between the runs listed, and the task's main metrics. `clean` removes
interrupted and failed runs, folders that hold no run, and prepared datasets a killed preparation
left half-written; never a finished or pruned run, never anything outside results/ and data/.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import models  # noqa: F401 -- registers what each model declares it reports (--sort's direction)
from conf import PROJECT_ROOT
from conf.errors import UserError
from conf.schema import all_declared_metrics, minimized
from runs.catalog import Run, describe, differing_keys, find_runs, flatten, matches

FORMATS = ("table", "csv", "json", "markdown")


def rows(runs: list[Run], results_dir: Path, sort: str | None) -> tuple[list[str], list[dict[str, Any]]]:
    varying = differing_keys(runs)
    metric_names = sorted({name for run in runs for name in run.metrics
                           if name.split("_", 1)[0] in ("val", "test")} - {"val_loss", "test_loss"})
    if sort is not None and runs:  # no run matched: an empty table, whatever it would be sorted by
        known = {"start", *metric_names, *(name for run in runs for name in run.metrics)}
        if sort not in known:
            raise UserError(f"--sort {sort}: not a column; sort by start or a metric: {', '.join(sorted(known))}")
        if sort != "start":  # runs come oldest first already
            lower_better = minimized(sort, all_declared_metrics())  # a model's own metrics as it declares them
            missing = float("inf") if lower_better else float("-inf")
            runs = sorted(runs, key=lambda run: run.metrics.get(sort, missing), reverse=not lower_better)
            if sort not in metric_names:
                metric_names.append(sort)
    columns = ["folder", "model", "dataset", "experiment", "start", "status", "epochs", *varying, *metric_names]
    table = []
    for run in runs:
        params = run.hyper_parameters()
        table.append({"folder": str(run.folder.relative_to(results_dir)), "model": run.model, "dataset": run.dataset,
                      "experiment": run.experiment, "start": run.started.isoformat(timespec="seconds"),
                      "status": run.status, "epochs": run.epochs, **{key: params.get(key) for key in varying},
                      **{name: run.metrics.get(name) for name in metric_names}})
    return columns, table


def shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value)


def render(columns: list[str], table: list[dict[str, Any]], form: str) -> str:
    if form == "json":
        return json.dumps(table, indent=2, default=str)
    if form == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: ("" if row[key] is None else row[key] if isinstance(row[key], (str, int, float))
                                else json.dumps(row[key])) for key in columns} for row in table)
        return out.getvalue().rstrip("\n")
    if form == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(shown(row[key]).replace("|", "\\|") for key in columns) + " |" for row in table]
        return "\n".join(lines)
    from rich.console import Console
    from rich.table import Table

    rich_table = Table(*columns, title=f"{len(table)} runs")
    for row in table:
        rich_table.add_row(*(shown(row[key]) for key in columns))
    out = io.StringIO()
    Console(file=out, width=max(200, 14 * len(columns)), force_terminal=False).print(rich_table)
    return out.getvalue().rstrip("\n")


def compare(first: Path, second: Path) -> str:
    runs = []
    for folder in (first, second):
        run = describe(folder)
        if run is None:
            raise UserError(f"{folder} is not a training run's folder (no readable .hydra/config.yaml of stage=train)")
        runs.append(run)
    a, b = runs
    lines = [f"A: {a.folder} ({a.status}, {a.epochs} epochs)", f"B: {b.folder} ({b.status}, {b.epochs} epochs)",
             "", "config differences (A -> B):"]
    flat_a, flat_b = flatten(a.config), flatten(b.config)
    changed = [key for key in sorted(set(flat_a) | set(flat_b)) if flat_a.get(key) != flat_b.get(key)]
    lines += [f"  {key}: {shown(flat_a.get(key))} -> {shown(flat_b.get(key))}" for key in changed] or ["  none"]
    lines += ["", "metric differences (B - A):"]
    for name in sorted(set(a.metrics) | set(b.metrics)):
        va, vb = a.metrics.get(name), b.metrics.get(name)
        delta = f"{vb - va:+.4g}" if va is not None and vb is not None else ""
        lines.append(f"  {name}: {shown(va)} -> {shown(vb)} {delta}".rstrip())
    return "\n".join(lines)


def clean_candidates(results_dir: Path, data_dir: Path) -> list[tuple[Path, str]]:
    """What `clean` removes, with why: interrupted and failed runs, folders holding nothing at all outside
    any run, and prepared datasets a killed preparation left behind (staging folders, no manifest.json)."""
    runs = find_runs(results_dir)
    found = [(run.folder, run.status) for run in runs if run.status in ("interrupted", "failed")]
    run_folders = [run.folder for run in runs]
    for root, folders, files in os.walk(results_dir, followlinks=False):
        here = Path(root)
        if any(here.is_relative_to(folder) for folder in run_folders):
            folders[:] = []
            continue
        if here != results_dir and not files and not any(True for _ in _entries_below(here)):
            found.append((here, "empty"))
            folders[:] = []
    if data_dir.is_dir():
        for folder in sorted(data_dir.iterdir()):
            if folder.is_symlink() or not folder.is_dir() or folder.name == "downloads":
                continue
            if folder.name.startswith("."):
                found.append((folder, "half-prepared (a killed preparation's staging folder)"))
            elif not (folder / "manifest.json").is_file():
                found.append((folder, "half-prepared (no manifest.json)"))
    return found


def _entries_below(folder: Path):
    """Every file or link under `folder`, without following links (an empty tree yields nothing)."""
    for root, folders, files in os.walk(folder, followlinks=False):
        yield from files
        yield from (name for name in folders if (Path(root) / name).is_symlink())


def clean(results_dir: Path, data_dir: Path, really: bool) -> str:
    roots = [results_dir.resolve(), data_dir.resolve()]
    lines = []
    for folder, why in clean_candidates(results_dir, data_dir):
        real = folder.resolve()
        if folder.is_symlink() or not any(real.is_relative_to(root) for root in roots):
            continue  # never through a link, never outside results/ and data/
        lines.append(f"{'removed' if really else 'would remove'} {folder} ({why})")
        if really:
            shutil.rmtree(real)
    if not lines:
        return "nothing to clean"
    if not really:
        lines.append("dry run: nothing removed; run again with --yes to remove these")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runs", description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=PROJECT_ROOT / "results")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / "data")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="a table of every run")
    listing.add_argument("filters", nargs="*", help="model=cnn dataset=digits status=finished since=2026-11-01 ...")
    listing.add_argument("--sort", help="start (default) or a metric, e.g. val_accuracy (best first)")
    listing.add_argument("--format", choices=FORMATS, default="table")
    comparing = commands.add_parser("compare", help="config and metric differences of two runs")
    comparing.add_argument("first", type=Path)
    comparing.add_argument("second", type=Path)
    cleaning = commands.add_parser("clean", help="remove interrupted, failed and empty runs (dry run by default)")
    cleaning.add_argument("--yes", action="store_true", help="really remove them")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            runs = [run for run in find_runs(args.results_dir) if matches(run, args.filters)]
            columns, table = rows(runs, args.results_dir, args.sort)
            print(render(columns, table, args.format))
        elif args.command == "compare":
            print(compare(args.first, args.second))
        else:
            print(clean(args.results_dir, args.data_dir, args.yes))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
