"""Reading a sweep's `study.journal` back, as the sweep benchmarks do to time and replay its trials."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project, for hpsearch.study


def journal_study(journal: str | Path, name: str | None = None):
    """The Optuna study stored in a sweep's journal file: `name`, or the file's only study."""
    import optuna

    from hpsearch.study import open_storage

    storage = open_storage(str(journal))
    return optuna.load_study(study_name=name or optuna.get_all_study_names(storage)[0], storage=storage)
