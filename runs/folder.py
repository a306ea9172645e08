"""Reading a finished (or interrupted) run's folder: where it is, which run `latest` is, its saved config.

A run folder may come from someone else, so everything here treats it as data: its YAML files are
read as plain data (bounded size, no YAML aliases, no `${...}` interpolation, so no resolver runs and
no environment variable is read), nothing inside it may lead out of it (a symbolic link, or a name
with `..`), and the config is re-typed through the schemas of registered models and datasets only.
No TensorFlow here: stages check a run folder before TensorFlow starts.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from conf.errors import ConfigError, UserError, first_line
from conf.schema import RunConfig, validate_config
from data.sources import dataset_schema
from models import registered_class
from runs.untrusted import NAME, contained, read_yaml_data


def is_run_folder(path: Path) -> bool:
    return (path / ".hydra" / "config.yaml").is_file()


def has_progress(path: Path) -> bool:
    """A run that finished (`metrics.json`) or holds a checkpoint (`checkpoints/state.json`); a job that
    failed before its first epoch ended has neither, and `run=latest` passes it over."""
    return (path / "metrics.json").is_file() or (path / "checkpoints" / "state.json").is_file()


def _started(folder: Path) -> tuple[str, int]:
    """Sort key of a run folder: its time stamp, then the `_<n>` of runs started in the same second."""
    stamp, suffix = folder.name[:19], folder.name[20:]  # YYYY-MM-DD_HH-MM-SS[_n]
    return stamp, int(suffix) if suffix.isdigit() else 0


def find_run(run: str, results_dir: str | Path, model: str, dataset: str, exclude: Path | None = None) -> Path:
    """The run folder that `run=` names: a path, or `latest` for the newest run of model on dataset
    that finished or holds a checkpoint (other than `exclude`, the folder of the job that asks)."""
    if run == "latest":
        base = Path(results_dir) / model / dataset
        exclude_resolved = exclude.resolve() if exclude is not None else None
        candidates = base.iterdir() if base.is_dir() else []
        runs = sorted((p for p in candidates if is_run_folder(p) and has_progress(p)
                       and p.resolve() != exclude_resolved), key=_started)
        if not runs:
            raise UserError(f"run=latest: no run of model={model} on dataset={dataset} in {base} finished or "
                            "holds a checkpoint")
        contained(runs[-1], ".hydra/config.yaml", ".hydra/hydra.yaml")
        return runs[-1].resolve()
    path = Path(run).expanduser()
    if not path.is_dir():
        raise UserError(f"run={run}: no such folder")
    if not is_run_folder(path):
        raise UserError(f"run={run} is not a run folder: it has no .hydra/config.yaml")
    contained(path, ".hydra/config.yaml", ".hydra/hydra.yaml")
    return path.resolve()


def run_choices(run_dir: Path) -> tuple[str, str]:
    """The model and dataset options a run was started with (from Hydra's record of its choices),
    which name folders: only plain option names are accepted."""
    path = run_dir / ".hydra" / "hydra.yaml"
    contained(run_dir, ".hydra/hydra.yaml")
    data = read_yaml_data(path, allow_interpolation=True)  # Hydra's own settings interpolate; only choices are read
    try:
        choices = data["hydra"]["runtime"]["choices"]
        model, dataset = str(choices["model"]), str(choices["dataset"])
    except (KeyError, TypeError):
        raise UserError(f"{path} does not record the run's model and dataset choices") from None
    for key, value in (("model", model), ("dataset", dataset)):
        if not NAME.match(value) or ".." in value:
            raise UserError(f"{path}: choices.{key}={value!r} is not a config option name")
    return model, dataset


def load_run_config(run_dir: Path) -> DictConfig:
    """The run's saved config, typed by the schemas; refuses one that does not fit them.

    The model's class must be a registered one (its schema comes from the registry), so a
    `_target_` pointing anywhere else is refused before anything is built.
    """
    path = run_dir / ".hydra" / "config.yaml"
    contained(run_dir, ".hydra/config.yaml")
    try:
        saved = OmegaConf.create(read_yaml_data(path))
        try:
            model_schema = registered_class(saved.model._target_).Config
        except UserError as error:
            raise UserError(f"{path}: {error}") from None
        schema = OmegaConf.structured(RunConfig)
        schema.model = OmegaConf.structured(model_schema)
        schema.dataset = OmegaConf.structured(dataset_schema(saved.dataset.get("source") or saved.dataset.name))
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


def target_run(cfg: DictConfig) -> Path:
    """The run folder a job's `run=` names, `latest` taken among runs of the job's model and dataset."""
    from hydra.core.hydra_config import HydraConfig

    runtime = HydraConfig.get().runtime
    return find_run(cfg.run, cfg.results_dir, runtime.choices.model, runtime.choices.dataset,
                    exclude=Path(runtime.output_dir))


PREPROCESSING = "preprocessing.json"
MAX_RECORD_BYTES = 64 << 20  # a run's JSON records are read only up to this size


def load_preprocessing(run_dir: Path, config: DictConfig):
    """What the run's training did to its inputs (and regression targets), checked as untrusted data.

    A run recorded before preprocessing records existed scaled its inputs by `dataset.scale`.
    """
    import json

    import numpy as np

    from data.preprocessing import Preprocessing

    path = run_dir / PREPROCESSING
    contained(run_dir, PREPROCESSING)
    if config.dataset.get("features"):
        features = {name: int(np.prod(f.shape)) for name, f in config.dataset.features.items()}
    else:
        from data.prepare import values_per_step

        features = values_per_step(config.dataset.input_shape)  # of a sequence: per step
    if config.dataset.get("targets"):
        outputs = {name: int(t.get("num_outputs", 1)) for name, t in config.dataset.targets.items()
                   if t.task == "regression"}
    else:
        outputs = int(config.dataset.num_outputs)
    if not path.exists():
        if config.dataset.normalize == "scale" and config.dataset.task != "regression":
            return Preprocessing("scale", float(config.dataset.scale))
        raise UserError(f"{path} is missing: the run cannot be evaluated or served without it")
    if not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
        raise UserError(f"{path} is not a file of at most {MAX_RECORD_BYTES >> 20} MB")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is unreadable: {first_line(error)}") from None
    return Preprocessing.from_dict(data, str(path), features, outputs)
