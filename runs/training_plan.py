"""Where a training job goes: a fresh run, the resumption of an interrupted one, or a branch.

`plan_training` reads the job's `run=` and `checkpoint=` and the parent's folder, and decides the
config the job runs with, its folder, the epoch it starts at and the checkpoint it starts from,
before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from conf.errors import UserError
from conf.schema import GROUPS, TrialConfig, validate_config
from runs.checkpoints import checkpoint_state, epoch_checkpoints, resolve_checkpoint
from runs.folder import has_progress, load_run_config, target_run

# Overrides that say which run to act on, not how it is configured.
ADDRESSING_KEYS = ("stage", "run", "checkpoint", "data_dir", "results_dir")


@dataclass
class TrainingPlan:
    config: DictConfig  # what the run is configured with
    run_dir: Path  # where checkpoints, logs and metrics go
    first_epoch: int  # epochs already trained (0-based index of the next one)
    start_from: Path | None  # checkpoint to load before fitting
    restarted_from: list[str] | None = None  # a run started again from these recorded overrides: it records itself


def value_overrides(cfg: DictConfig) -> list:
    """The command line's overrides that change configuration values (Hydra's parsed Override objects)."""
    parsed = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return [o for o in parsed if o.key_or_group.split(".")[0] not in ADDRESSING_KEYS]


# Keys a recorded command line of an unrecorded run may not set: which study it reports to, Hydra's own
# settings, `best` (applied to the job's own config only) and what the job acts on.
REFUSED_RECORDED = ("hydra", "trial", "best", "run", "checkpoint", "input")


def unrecorded_run_config(parent: Path, cfg: DictConfig) -> tuple[DictConfig, list[str]]:
    """The config of a run killed before it recorded itself (no `run.json`, no checkpoint: its
    `.hydra/config.yaml` is still Hydra's, with interpolations), composed again from the command-line
    overrides Hydra recorded in `.hydra/overrides.yaml`, read as untrusted data: a list of `key=value`
    with literal values only, checked by the schemas like any command line; nothing of Hydra's, of a sweep's
    trial, of `best` or of where to log, and `data_dir`/`results_dir` are this job's own. The run then starts
    in place, at epoch 1."""
    from hydra import compose

    from conf.errors import ConfigError, first_line
    from runs.untrusted import contained, read_yaml_data

    path = parent / ".hydra" / "overrides.yaml"
    contained(parent, ".hydra/overrides.yaml")
    recorded = read_yaml_data(path)  # refuses ${...}
    if not isinstance(recorded, list) or not all(isinstance(item, str) for item in recorded):
        raise UserError(f"{path} is not a list of key=value overrides: the run cannot be started again from it")
    try:
        parsed = OverridesParser.create().parse_overrides(recorded)
    except Exception as error:  # Hydra's grammar errors are several types
        raise UserError(f"{path}: {first_line(error)}") from None
    kept = []
    for override in parsed:
        text, key = override.input_line, override.key_or_group
        root = re.split(r"[./]", key.lstrip("+~"), maxsplit=1)[0]
        if root in ("data_dir", "results_dir"):
            continue  # where this job reads and writes, from its own command line, never from the folder
        if override.is_sweep_override() or override.is_delete() or "${" in text or root in REFUSED_RECORDED or (
                key.startswith("logger.")):
            raise UserError(f"{path}: {text} is not a plain key=value of a run's configuration; the run cannot be "
                            "started again from it")
        kept.append(text)
    changes = value_overrides(cfg)
    if changes:
        raise UserError(f"{parent} starts again as it was configured, so {changes[0].input_line} cannot apply")
    where = [f"data_dir={cfg.data_dir}", f"results_dir={cfg.results_dir}"]
    try:
        config = compose(config_name="config", overrides=[*kept, *where])
        config.trial = OmegaConf.structured(TrialConfig)  # a sweep trial's study is not this job's
        validate_config(config)
    except ConfigError as error:
        raise UserError(f"{path}: {error}") from None
    except Exception as error:  # a value Hydra or OmegaConf refuse while composing
        raise UserError(f"{path}: {first_line(error)}") from None
    return config, [*kept, *where]


def plan_training(cfg: DictConfig) -> TrainingPlan:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.run is None:
        return TrainingPlan(cfg, output_dir, 0, None)
    parent = target_run(cfg)
    if cfg.checkpoint is None and not (parent / "run.json").is_file() and not has_progress(parent):
        config, recorded = unrecorded_run_config(parent, cfg)
        return TrainingPlan(config, parent, 0, None, recorded)
    config = load_run_config(parent)
    config.trial = OmegaConf.structured(TrialConfig)  # a parent that was a sweep trial: its study is not ours
    changes = value_overrides(cfg)
    if cfg.checkpoint is None:  # resume in place
        if changes:
            raise UserError(f"resuming continues {parent} as it was configured, so "
                            f"{changes[0].input_line} cannot apply; branch a new run instead: "
                            f"run={parent} checkpoint=last {' '.join(o.input_line for o in changes)}")
        last = checkpoint_state(parent).get("last_epoch", 0)
        if last and last not in epoch_checkpoints(parent):
            raise UserError(f"{parent}: state.json names epoch {last} as the last checkpoint, but "
                            f"checkpoints/epoch_{last}.keras is gone; branch from a kept one (checkpoint=...)")
        return TrainingPlan(config, parent, last, epoch_checkpoints(parent).get(last))
    path, epoch = resolve_checkpoint(parent, cfg.checkpoint)
    for override in changes:
        if override.key_or_group in GROUPS:
            raise UserError(f"a branch keeps its parent's {override.key_or_group}; {override.input_line} "
                            f"cannot apply (start a fresh run instead)")
        OmegaConf.update(config, override.key_or_group, override.value(), merge=False)
    config.run, config.checkpoint = str(parent), cfg.checkpoint
    validate_config(config)
    if epoch >= config.trainer.epochs:
        raise UserError(f"checkpoint={cfg.checkpoint} is epoch {epoch} and trainer.epochs={config.trainer.epochs}: "
                        f"nothing left to train; set trainer.epochs above {epoch}")
    return TrainingPlan(config, output_dir, epoch, path)
