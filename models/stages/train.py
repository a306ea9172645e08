"""The training stage: a fresh run, the resumption of an interrupted one, or a branch from a checkpoint.

    python main.py                                         # fresh: a new run folder
    python main.py run=<run>                               # resume <run> in place from its last checkpoint
    python main.py run=<run> checkpoint=epoch_3 trainer.epochs=20   # branch: a new run from epoch 3

Each then seeds, prepares the data, builds the model, fits, evaluates the best checkpoint on every
split and writes `metrics.json`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from conf.errors import UserError
from conf.run_folder import checkpoint_state, epoch_checkpoints, load_run_config, resolve_checkpoint, target_run
from conf.schema import GROUPS, TrialConfig, optimized_metrics, validate_config
from data.pipeline import evaluation_batches, steps_per_epoch, training_batches
from data.prepare import SPLITS, load_split, prepare_dataset
from models import build_model
from models.atomic_files import write_json_atomically, write_text_atomically
from models.base_model import BaseModel
from models.stages.run_record import start_run

log = logging.getLogger("train")

# Overrides that say which run to act on, not how it is configured.
ADDRESSING_KEYS = ("stage", "run", "checkpoint", "data_dir", "results_dir")


@dataclass
class TrainingPlan:
    config: DictConfig  # what the run is configured with
    run_dir: Path  # where checkpoints, logs and metrics go
    first_epoch: int  # epochs already trained (0-based index of the next one)
    start_from: Path | None  # checkpoint to load before fitting


def value_overrides(cfg: DictConfig) -> list:
    """The command line's overrides that change configuration values (Hydra's parsed Override objects)."""
    parsed = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return [o for o in parsed if o.key_or_group.split(".")[0] not in ADDRESSING_KEYS]


def plan_training(cfg: DictConfig) -> TrainingPlan:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.run is None:
        return TrainingPlan(cfg, output_dir, 0, None)
    parent = target_run(cfg)
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


def pruning_callback(cfg: DictConfig):
    """An OptunaPruning callback when this job is a trial of the Optuna sweeper (single objective)."""
    if cfg.trial.number is None:
        return None
    from hydra.utils import instantiate

    from hpsearch.study import job_trial
    from models.callbacks import OptunaPruning

    sweeper = HydraConfig.get().sweeper
    metrics = optimized_metrics(cfg.optimized_metric)
    if len(metrics) > 1:  # Optuna prunes single-objective studies only
        return None
    trial = job_trial(cfg, instantiate(sweeper.pruner))
    return OptunaPruning(trial, monitor="val_" + metrics[0].split("_", 1)[1])


def train(cfg: DictConfig) -> dict[str, float]:
    """Train as `plan_training` decides; returns flat metrics such as `val_accuracy`, `test_loss`."""
    started = time.perf_counter()
    plan = plan_training(cfg)
    config, run_dir = plan.config, plan.run_dir
    folder = prepare_dataset(config.dataset, cfg.data_dir)  # before any record: a missing dataset leaves no run
    start_run(config)
    BaseModel.seed_everything(config.seed, config.trainer.deterministic)
    splits = {split: load_split(folder, split, config.dataset.input_shape) for split in SPLITS}
    batch_size, scale = config.trainer.batch_size, config.dataset.scale

    pruning = pruning_callback(config)
    model = build_model(config)
    write_text_atomically(run_dir / "model_summary.txt", model.summary() + "\n")
    fit_started = time.perf_counter()
    if plan.start_from is not None:
        model.load_checkpoint(plan.start_from)
        log.info("continuing from %s (epoch %d)", plan.start_from, plan.first_epoch)
    if plan.first_epoch < config.trainer.epochs:
        train_x, train_y = splits["train"]
        model.fit(
            training_batches(train_x, train_y, batch_size, config.seed, plan.first_epoch, config.trainer.epochs,
                             scale),
            evaluation_batches(*splits["val"], batch_size, scale),
            run_dir, steps_per_epoch=steps_per_epoch(len(train_y), batch_size), initial_epoch=plan.first_epoch,
            extra_callbacks=(pruning,) if pruning else ())
    fit_time = time.perf_counter() - fit_started

    state = checkpoint_state(run_dir)
    best_path, best_epoch = resolve_checkpoint(run_dir, "best")
    pruned = bool(pruning and pruning.pruned_at)
    if pruned:  # the sweep only needs to know it stopped; evaluating every split would cost more than that
        results = {"val": {name[len("val_"):]: value for name, value in pruning.last_logs.items()
                           if name.startswith("val_")}}
    else:
        model.load_checkpoint(best_path)
        results = {split: model.evaluate(evaluation_batches(x, y, batch_size, scale))
                   for split, (x, y) in splits.items()}
    metrics = {
        **results,
        "epochs_run": state["last_epoch"],
        "best_epoch": best_epoch,
        "seed": config.seed,
        "fit_time_s": round(fit_time, 3),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    if pruned:
        metrics["pruned_at_epoch"] = pruning.pruned_at
    write_json_atomically(run_dir / "metrics.json", metrics)
    flat = flat_metrics(results)
    if pruned:
        import optuna

        log.info("pruned after epoch %d: %s", pruning.pruned_at,
                 " ".join(f"{name}={value:.4f}" for name, value in sorted(flat.items())))
        raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
    log.info("best epoch %d: %s", best_epoch, " ".join(f"{name}={value:.4f}" for name, value in sorted(flat.items())))
    return flat


def flat_metrics(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """{"val": {"accuracy": a}} -> {"val_accuracy": a}: the names `optimized_metric` uses."""
    return {f"{split}_{name}": value for split, values in results.items() for name, value in values.items()}


