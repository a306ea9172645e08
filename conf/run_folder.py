"""Reading a finished (or interrupted) run's folder: where it is, its saved config, its checkpoints.

A run folder may come from someone else, so everything here treats it as data: the config is
re-typed through the schemas, and checkpoints are addressed only by the names `best`, `last` and
`epoch_<n>`. No TensorFlow here: stages check a run folder before TensorFlow starts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from conf.errors import ConfigError, UserError, first_line

CHECKPOINTS = "checkpoints"
EPOCH_FILE = re.compile(r"^epoch_(\d+)\.keras$")


def is_run_folder(path: Path) -> bool:
    return (path / ".hydra" / "config.yaml").is_file()


def _started(folder: Path) -> tuple[str, int]:
    """Sort key of a run folder: its time stamp, then the `_<n>` of runs started in the same second."""
    stamp, suffix = folder.name[:19], folder.name[20:]  # YYYY-MM-DD_HH-MM-SS[_n]
    return stamp, int(suffix) if suffix.isdigit() else 0


def find_run(run: str, results_dir: str | Path, model: str, dataset: str, exclude: Path | None = None) -> Path:
    """The run folder that `run=` names: a path, or `latest` for the newest run of model on dataset
    (other than `exclude`, the folder of the job that asks)."""
    if run == "latest":
        base = Path(results_dir) / model / dataset
        exclude_resolved = exclude.resolve() if exclude is not None else None
        candidates = base.iterdir() if base.is_dir() else []
        runs = sorted((p for p in candidates if is_run_folder(p) and p.resolve() != exclude_resolved), key=_started)
        if not runs:
            raise UserError(f"run=latest: no run of model={model} on dataset={dataset} in {base}")
        return runs[-1].resolve()
    path = Path(run).expanduser()
    if not path.is_dir():
        raise UserError(f"run={run}: no such folder")
    if not is_run_folder(path):
        raise UserError(f"run={run} is not a run folder: it has no .hydra/config.yaml")
    return path.resolve()


def run_choices(run_dir: Path) -> tuple[str, str]:
    """The model and dataset options a run was started with (from Hydra's record of its choices)."""
    try:
        choices = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra.runtime.choices
        return str(choices.model), str(choices.dataset)
    except (OSError, OmegaConfBaseException, AttributeError) as error:
        raise UserError(f"{run_dir}/.hydra/hydra.yaml is missing or unreadable: {error}") from None


def load_run_config(run_dir: Path) -> DictConfig:
    """The run's saved config, typed by the schemas; refuses one that does not fit them.

    The model's class must be a registered one (its schema comes from the registry), so a
    `_target_` pointing anywhere else is refused before anything is built.
    """
    from conf.schema import DatasetConfig, RunConfig, SyntheticDatasetConfig, validate_config
    from models import registered_class

    path = run_dir / ".hydra" / "config.yaml"
    try:
        saved = OmegaConf.load(path)
        try:
            model_schema = registered_class(saved.model._target_).Config
        except UserError as error:
            raise UserError(f"{path}: {error}") from None
        dataset_schema = SyntheticDatasetConfig if saved.dataset.name == "synthetic" else DatasetConfig
        schema = OmegaConf.structured(RunConfig)
        schema.model, schema.dataset = OmegaConf.structured(model_schema), OmegaConf.structured(dataset_schema)
        typed = OmegaConf.merge(schema, saved)
        validate_config(typed)
    except ConfigError as error:
        raise UserError(f"{path} is not a valid run config: {error}") from None
    except UserError:
        raise
    except (OSError, ValueError, AttributeError, yaml.YAMLError, OmegaConfBaseException) as error:
        key = getattr(error, "full_key", None)
        detail = first_line(error)
        raise UserError(f"{path} is not a valid run config: {f'{key}: ' if key else ''}{detail}") from None
    return typed


def epoch_checkpoints(run_dir: Path) -> dict[int, Path]:
    """The complete per-epoch checkpoints of a run, by epoch number (temporary files never match)."""
    directory = run_dir / CHECKPOINTS
    if not directory.is_dir():
        return {}
    found = (EPOCH_FILE.match(path.name) for path in directory.iterdir())
    return {int(match.group(1)): directory / match.group(0) for match in found if match}


def checkpoint_state(run_dir: Path) -> dict:
    """`checkpoints/state.json`: last and best epoch; empty for a run killed during its first epoch."""
    path = run_dir / CHECKPOINTS / "state.json"
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
        if not all(isinstance(state.get(key, 0), int) for key in ("last_epoch", "best_epoch")) or \
                "last_epoch" not in state:
            raise ValueError("epochs must be integers")
        return state
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{path} is unreadable; it is written by training, do not edit it") from None


def named_checkpoints(run_dir: Path) -> dict[str, tuple[Path, int]]:
    """Every checkpoint of a run by name, with its file and epoch: `best`, `last`, `epoch_<n>`.

    `best` and `last` are the epochs `state.json` names; training never prunes the best one.
    """
    epochs = epoch_checkpoints(run_dir)
    state = checkpoint_state(run_dir)
    names = {alias: (epochs[state[key]], state[key]) for alias, key in (("best", "best_epoch"), ("last", "last_epoch"))
             if state.get(key) in epochs}
    names.update({f"epoch_{n}": (epochs[n], n) for n in sorted(epochs)})
    return names


def resolve_checkpoint(run_dir: Path, name: str) -> tuple[Path, int]:
    """The file and epoch number of checkpoint `name` (`best`, `last` or `epoch_<n>`)."""
    named = named_checkpoints(run_dir)
    if name in named:
        return named[name]
    available = list(named)
    raise UserError(f"checkpoint={name}: not in {run_dir / CHECKPOINTS}; available: "
                    f"{', '.join(available) if available else 'none (no epoch finished)'}")



def target_run(cfg: DictConfig) -> Path:
    """The run folder a job's `run=` names, `latest` taken among runs of the job's model and dataset."""
    from hydra.core.hydra_config import HydraConfig

    runtime = HydraConfig.get().runtime
    return find_run(cfg.run, cfg.results_dir, runtime.choices.model, runtime.choices.dataset,
                    exclude=Path(runtime.output_dir))
