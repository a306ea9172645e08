"""The learning rate of every optimizer of a network, epoch by epoch, as a pure function of the epoch.

Keras' `LearningRateScheduler` sets `model.optimizer` alone; a GAN or a distiller may train with
several optimizers at learning rates of their own. Each optimizer's rates are given for every epoch
(the base model scales the configured schedule by the rate each optimizer was built with), so a
resumed run continues every schedule exactly.
"""

from __future__ import annotations

import keras


class LearningRateSchedule(keras.callbacks.Callback):
    """Before epoch e (from 0), set optimizer i's learning rate to `rates[i][e]`; log the first one's."""

    def __init__(self, optimizers: list, rates: list[list[float]]) -> None:
        super().__init__()
        self.optimizers, self.rates = optimizers, rates

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for optimizer, rates in zip(self.optimizers, self.rates, strict=True):
            optimizer.learning_rate = rates[min(epoch, len(rates) - 1)]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None and self.optimizers:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.optimizers[0].learning_rate))
