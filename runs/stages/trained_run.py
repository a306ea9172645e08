"""What the stages that act on a trained run share: finding the run and its checkpoint, building
the model back, and reporting the result as JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from data.preprocessing import Preprocessing
from models import build_model
from models.base_model import BaseModel
from runs.atomic_files import write_json_atomically
from runs.checkpoints import resolve_checkpoint
from runs.devices import configure_devices
from runs.folder import load_preprocessing, load_run_config, target_run


@dataclass
class TrainedRun:
    folder: Path
    config: DictConfig  # the run's own saved config, checked against the schemas
    checkpoint: str  # its name: best, last or epoch_<n>
    path: Path
    epoch: int
    preprocessing: Preprocessing  # what training did to inputs (and regression targets)
    elsewhere: Path | None = None  # the job's folder when it is outside the run (a read-only run)

    def header(self) -> dict[str, Any]:
        header = {"run": str(self.folder), "checkpoint": self.checkpoint, "epoch": self.epoch}
        return header if self.elsewhere is None else {**header, "output_dir": str(self.elsewhere)}


def trained_run(cfg: DictConfig) -> TrainedRun:
    """The run `run=` names and its checkpoint `checkpoint=` (default `best`), checked before any work."""
    folder = target_run(cfg)
    checkpoint = cfg.checkpoint or "best"
    path, epoch = resolve_checkpoint(folder, checkpoint)
    config = load_run_config(folder)
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    elsewhere = None if output_dir.resolve().is_relative_to(folder.resolve()) else output_dir
    if elsewhere is not None:
        logging.getLogger("run").info("run %s is read-only: this job reads it and writes into %s", folder, elsewhere)
    return TrainedRun(folder, config, checkpoint, path, epoch, load_preprocessing(folder, config), elsewhere)


def load_trained_model(config: DictConfig, checkpoint: Path, preprocessing: Preprocessing | None = None) -> BaseModel:
    """The run's model (only a registered class) with the checkpoint's weights.

    Weights are read into a network this project builds itself; nothing in the file is
    deserialised into code, which is what keeps loading someone else's run safe.
    """
    BaseModel.seed_everything(config.seed, config.trainer.deterministic)
    single_device = OmegaConf.merge(config.trainer, {"distribute": "none", "devices": None})
    with configure_devices(single_device).scope():  # a mirrored run's checkpoint serves on one device
        model = build_model(config, preprocessing)
    model.load_checkpoint(checkpoint)
    return model


def report(filename: str, result: dict[str, Any]) -> None:
    """Keep the result in the job's folder (`<run>/<stage>/<time>/`) and print it as one JSON line."""
    path = Path(HydraConfig.get().runtime.output_dir) / filename
    write_json_atomically(path, result)
    logging.getLogger("run").info("wrote %s", path)
    print(json.dumps(result), flush=True)
