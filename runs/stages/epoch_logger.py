"""One log line per epoch, so the run's log file holds the whole training curve in text."""

from __future__ import annotations

import logging

import keras

log = logging.getLogger("train")


class EpochLogger(keras.callbacks.Callback):
    """Logs `epoch n/N` and every metric of the epoch (loss, accuracy, their val_ twins, learning rate)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = " ".join(f"{name}={value:.4g}" for name, value in sorted((logs or {}).items()))
        log.info("epoch %d/%d %s", epoch + 1, self.epochs, values)
