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

from conf.errors import ConfigError, UserError

CHECKPOINTS = "checkpoints"
EPOCH_FILE = re.compile(r"^epoch_(\d+)\.keras$")


def is_run_folder(path: Path) -> bool:
    return (path / ".hydra" / "config.yaml").is_file()


def find_run(run: str, results_dir: str | Path, model: str, dataset: str) -> Path:
    """The run folder that `run=` names: a path, or `latest` for the newest run of model on dataset."""
    if run == "latest":
        base = Path(results_dir) / model / dataset
        runs = sorted(p for p in base.iterdir() if is_run_folder(p)) if base.is_dir() else []
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
    from conf.schema import DatasetConfig, RunConfig, SyntheticDatasetConfig
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
        for group in ("model", "dataset", "optimizer", "trainer", "stage"):
            OmegaConf.to_object(typed[group])
    except ConfigError as error:
        raise UserError(f"{path} is not a valid run config: {error}") from None
    except UserError:
        raise
    except (OSError, ValueError, AttributeError, yaml.YAMLError, OmegaConfBaseException) as error:
        key = getattr(error, "full_key", None)
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
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
        int(state["last_epoch"])
        return state
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{path} is unreadable; it is written by training, do not edit it") from None


def available_checkpoints(run_dir: Path) -> list[str]:
    names = [f"epoch_{n}" for n in sorted(epoch_checkpoints(run_dir))]
    state = checkpoint_state(run_dir)
    if (run_dir / CHECKPOINTS / "best.keras").is_file() and "best_epoch" in state:
        names.insert(0, "best")
    if state.get("last_epoch") in epoch_checkpoints(run_dir):
        names.insert(1 if names[:1] == ["best"] else 0, "last")
    return names


def resolve_checkpoint(run_dir: Path, name: str) -> tuple[Path, int]:
    """The file and epoch number of checkpoint `name` (`best`, `last` or `epoch_<n>`)."""
    state = checkpoint_state(run_dir)
    epochs = epoch_checkpoints(run_dir)
    match = re.fullmatch(r"epoch_(\d+)", name)
    if name == "best" and "best_epoch" in state and (run_dir / CHECKPOINTS / "best.keras").is_file():
        return run_dir / CHECKPOINTS / "best.keras", int(state["best_epoch"])
    if name == "last" and state.get("last_epoch") in epochs:
        return epochs[state["last_epoch"]], int(state["last_epoch"])
    if match and int(match.group(1)) in epochs:
        return epochs[int(match.group(1))], int(match.group(1))
    available = available_checkpoints(run_dir)
    raise UserError(f"checkpoint={name}: not in {run_dir / CHECKPOINTS}; available: "
                    f"{', '.join(available) if available else 'none (no epoch finished)'}")



def target_run(cfg: DictConfig) -> Path:
    """The run folder a job's `run=` names, `latest` taken among runs of the job's model and dataset."""
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices
    return find_run(cfg.run, cfg.results_dir, choices.model, choices.dataset)
