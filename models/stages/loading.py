"""Building a trained model back from its run: the run's config, then one of its checkpoints."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from models import build_model
from models.base_model import BaseModel


def load_trained_model(config: DictConfig, checkpoint: Path) -> BaseModel:
    """The run's model (only a registered class) with the checkpoint's weights.

    Weights are read into a network this project builds itself; nothing in the file is
    deserialised into code, which is what keeps loading someone else's run safe.
    """
    BaseModel.seed_everything(config.seed, config.trainer.deterministic)
    model = build_model(config)
    model.load_checkpoint(checkpoint)
    return model
