"""Where a sweep's Optuna study lives, and how a training job reaches its own trial in it.

A sweep's study is stored in its sweep folder by default (Optuna's journal file, safe for several
processes on one machine) or in any database `storage` names (`postgresql://...` for several
machines). Jobs get the study name, the storage and their trial number as overrides
(`trial.*`), so they reach their trial from whatever process or machine the launcher runs them in.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import optuna
from omegaconf import DictConfig

JOURNAL_PREFIX = "journal:"  # the form this project wrote before; still read


def storage_spec(storage: str | None, sweep_dir: Path) -> str:
    """The storage as a string a job can be given: a database URL, or by default the journal file's
    absolute path, which `optuna-dashboard <path>` and the `optuna` CLI's `--storage` take as is."""
    return storage if storage else str((Path(sweep_dir) / "study.journal").resolve())


def journal_path(spec: str) -> Path | None:
    """The journal file a storage string names (anything that is not a `scheme://` URL), else None."""
    if "://" in spec:
        return None
    return Path(spec[len(JOURNAL_PREFIX):] if spec.startswith(JOURNAL_PREFIX) else spec)


def open_storage(spec: str) -> optuna.storages.BaseStorage | str:
    path = journal_path(spec)
    if path is not None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    return spec


def remove_empty_study(journal: Path, new_folders: list[Path]) -> None:
    """Delete a journal this sweep created but never ran a trial in, and the folders it created for it."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if journal.exists():
        try:
            storage = JournalStorage(JournalFileBackend(str(journal)))
            if any(storage.get_all_trials(study._study_id, deepcopy=False) for study in storage.get_all_studies()):
                return
        except Exception:  # unreadable: not ours to judge, leave it
            return
        journal.unlink()
        for lock in journal.parent.glob(f"{journal.name}.lock*"):
            lock.unlink(missing_ok=True)
    for folder in sorted(new_folders, key=lambda folder: len(folder.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only while empty


def job_trial(cfg: DictConfig, pruner: optuna.pruners.BasePruner) -> optuna.Trial:
    """The running trial this job evaluates (the job's `trial.*` keys are set)."""
    storage = optuna.storages.get_storage(open_storage(cfg.trial.storage))
    study = optuna.load_study(study_name=cfg.trial.study_name, storage=storage, pruner=pruner)
    study_id = storage.get_study_id_from_name(cfg.trial.study_name)
    return optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, cfg.trial.number))
