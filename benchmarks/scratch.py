"""What several benchmarks share: where they read MNIST from, and a scratch folder removed afterwards.

Each benchmark compares two things inside one call of its `compare(args, work)`; `work` is a fresh
folder under `--work-dir`, so two benchmarks (or two runs of one) never read each other's files.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def add_folder_arguments(parser: argparse.ArgumentParser, mnist: bool = False) -> None:
    """--work-dir, and with `mnist` --raw-dir (the IDX files) and --data-dir (the prepared datasets)."""
    if mnist:
        parser.add_argument("--raw-dir", type=Path, default=Path("/tmp/dm/downloads"),
                            help="holds mnist/ with the raw IDX files")
        parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench/data"), help="prepared datasets")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench"))


def run_in_scratch(args: argparse.Namespace, name: str, compare: Callable[[argparse.Namespace, Path], None]) -> None:
    """`compare(args, work)` with `work` a new folder `<work-dir>/<name>-*`, removed however it ends."""
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.work_dir))
    try:
        compare(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
