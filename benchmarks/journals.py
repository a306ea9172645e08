"""Reading a sweep's `study.journal` back, as the sweep benchmarks do to time and replay its trials."""

from __future__ import annotations

from pathlib import Path


def journal_study(journal: str | Path, name: str | None = None):
    """The Optuna study stored in a sweep's journal file: `name`, or the file's only study."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name=name or optuna.get_all_study_names(storage)[0], storage=storage)
