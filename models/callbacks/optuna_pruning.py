"""Report each epoch's validation metric to the job's Optuna trial, and stop when its pruner says so."""

from __future__ import annotations

import logging

import keras

log = logging.getLogger("train")


class OptunaPruning(keras.callbacks.Callback):
    """After every epoch: `trial.report(logs[monitor], epoch)`; if `trial.should_prune()` before the
    last epoch, stop training.

    The trial reaches the study through its storage, so this works in any process the launcher
    runs the job in. `pruned_at` is the last epoch run when pruned, else None; `last_logs` are the
    metrics of the last epoch run.
    """

    def __init__(self, trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None
        self.last_logs: dict[str, float] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.last_logs = {name: float(v) for name, v in (logs or {}).items()}
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), epoch + 1)
        if epoch + 1 < self.params["epochs"] and self.trial.should_prune():  # the last epoch completes the trial
            self.pruned_at = epoch + 1
            self.model.stop_training = True
            log.info("pruned by the sweep's pruner after epoch %d (%s=%.4g)", epoch + 1, self.monitor, value)
