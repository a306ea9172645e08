"""Keras callbacks that are part of how a model trains (not of where a run writes), one per file."""

from models.callbacks.epoch_randomness import EpochRandomness
from models.callbacks.learning_rate_schedule import LearningRateSchedule
from models.callbacks.reported_metrics_check import ReportedMetricsCheck

__all__ = ["EpochRandomness", "LearningRateSchedule", "ReportedMetricsCheck"]
