"""Keras callbacks of the training stage, one per file, named after what they do."""

from models.callbacks.epoch_logger import EpochLogger
from models.callbacks.epoch_randomness import EpochRandomness
from models.callbacks.optuna_pruning import OptunaPruning
from models.callbacks.run_checkpoint import RunCheckpoint

__all__ = ["EpochLogger", "EpochRandomness", "OptunaPruning", "RunCheckpoint"]
