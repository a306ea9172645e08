"""Keras callbacks that are part of how a model trains (not of where a run writes), one per file."""

from models.callbacks.epoch_randomness import EpochRandomness

__all__ = ["EpochRandomness"]
