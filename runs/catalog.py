"""Every run under a results folder, described from its files: what `python -m runs list|compare|clean` reads.

A run folder is one whose `.hydra/config.yaml` says `stage.name: train` (a fresh run, a branch, a
multirun job, a sweep trial); the folders of evaluate/infer/export/resume jobs inside it belong to
it. Everything is read as data from someone else (`runs.untrusted`): symbolic links are never
followed, files are read only up to a bound, and YAML is literal.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conf.errors import UserError
from runs.untrusted import read_yaml_data

MAX_JSON_BYTES = 1 << 20
STATUSES = ("finished", "pruned", "interrupted", "failed")
# Config keys that say where a run reads and writes, not how it learns: never a "hyper-parameter".
ADDRESSING = {"run", "checkpoint", "input", "data_dir", "results_dir", "best", "applied_best", "experiment",
              "trial.number", "trial.study_name", "trial.storage", "trial.callback", "stage.name"}


@dataclass
class Run:
    folder: Path
    config: dict
    status: str
    started: datetime
    epochs: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.config.get("model", {}).get("_target_", "?")).rsplit(".", 1)[-1].lower()

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset", {}).get("name", "?"))

    @property
    def experiment(self) -> str:
        return str(self.config.get("experiment") or "")

    def hyper_parameters(self) -> dict[str, Any]:
        return {key: value for key, value in flatten(self.config).items() if key not in ADDRESSING
                and not key.startswith("trial.")}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def read_json(path: Path) -> Any:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def describe(folder: Path) -> Run | None:
    """The run in `folder`, or None when it is not a training run's folder (or cannot be read as one)."""
    unrecorded = not (folder / "run.json").is_file()
    try:  # a run killed before it recorded itself still has Hydra's config, with its interpolations
        config = read_yaml_data(folder / ".hydra" / "config.yaml", allow_interpolation=unrecorded)
    except UserError:
        return None
    if not isinstance(config, dict) or not isinstance(config.get("stage"), dict) or \
            config["stage"].get("name") != "train":
        return None
    metrics = read_json(folder / "metrics.json")
    state = read_json(folder / "checkpoints" / "state.json")
    if isinstance(metrics, dict):
        status = "pruned" if "pruned_at_epoch" in metrics else "finished"
    else:
        status = "interrupted" if isinstance(state, dict) and "last_epoch" in state or unrecorded else "failed"
    epochs_run = metrics.get("epochs_run") if isinstance(metrics, dict) else \
        state.get("last_epoch") if isinstance(state, dict) else 0
    trainer = config.get("trainer") if isinstance(config.get("trainer"), dict) else {}
    flat = {}
    if isinstance(metrics, dict):
        flat = {f"{split}_{name}": value for split, values in metrics.items() if isinstance(values, dict)
                for name, value in values.items() if isinstance(value, (int, float))}
    stamp = folder / ".hydra" / "overrides.yaml"
    started = datetime.fromtimestamp((stamp if stamp.is_file() else folder).stat().st_mtime)
    return Run(folder, config, status, started, f"{epochs_run}/{trainer.get('epochs', '?')}", flat)


def find_runs(results_dir: Path) -> list[Run]:
    """Every training run under `results_dir`, oldest first, without following symbolic links."""
    runs = []
    for root, folders, _ in os.walk(results_dir, followlinks=False):
        here = Path(root)
        folders[:] = sorted(name for name in folders if not (here / name).is_symlink())
        if (here / ".hydra").is_dir():
            run = describe(here)
            if run is not None:
                runs.append(run)
                folders[:] = []  # what is inside a run (its evaluate/, resume/ jobs) belongs to it
    return sorted(runs, key=lambda run: (run.started, str(run.folder)))


def differing_keys(runs: list[Run]) -> list[str]:
    """The hyper-parameters whose values are not the same in every one of `runs`."""
    values = [run.hyper_parameters() for run in runs]
    keys = sorted(set().union(*values)) if values else []
    return [key for key in keys if len({json.dumps(v.get(key), sort_keys=True, default=str) for v in values}) > 1]


FILTER = re.compile(r"^([A-Za-z_][\w.]*)=(.*)$")


def matches(run: Run, filters: list[str]) -> bool:
    """`model=cnn`, `dataset=digits`, `status=finished`, `experiment=x`, `since=2026-11-01[T12:00]`, or any
    config key (`trainer.epochs=5`)."""
    for text in filters:
        found = FILTER.match(text)
        if not found:
            raise UserError(f"filter {text!r} is not key=value; e.g. model=cnn status=finished since=2026-11-01")
        key, wanted = found.groups()
        if key == "since":
            try:
                if run.started < datetime.fromisoformat(wanted):
                    return False
            except ValueError:
                raise UserError(f"since={wanted!r} is not a date or time such as 2026-11-01 or "
                                "2026-11-01T14:30") from None
        elif key == "status":
            if wanted not in STATUSES:
                raise UserError(f"status={wanted!r} is invalid: one of {', '.join(STATUSES)}")
            if run.status != wanted:
                return False
        elif key == "dataset":  # by name, or by the source that reads it (tfds, huggingface: its results folder)
            node = run.config.get("dataset")
            if wanted not in (run.dataset, str(node.get("source")) if isinstance(node, dict) else run.dataset):
                return False
        elif key in ("model", "experiment"):
            if getattr(run, key) != wanted:
                return False
        elif str(flatten(run.config).get(key)) != wanted:
            return False
    return True
