"""Report each epoch's validation metric to the job's Optuna trial, and stop when its pruner says so.

The sweeper hands this to its jobs through their config (`trial.callback=hpsearch.pruning.for_trial`),
so the training stage runs it without importing `hpsearch/`: it only relies on the small interface
below (`pruned_at`, `last_logs`, `pruned_exception`).
"""

from __future__ import annotations

import logging

import keras
from omegaconf import DictConfig

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

    def pruned_exception(self) -> Exception:
        """What the job raises once it has recorded a pruned run: the sweeper marks the trial PRUNED."""
        import optuna

        return optuna.TrialPruned(f"pruned after epoch {self.pruned_at}")


def for_trial(cfg: DictConfig) -> OptunaPruning | None:
    """The pruning callback of a job that is a single-objective trial (Optuna prunes only those)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from conf.schema import optimized_metrics
    from hpsearch.study import job_trial

    metrics = optimized_metrics(cfg.optimized_metric, cfg.dataset.task, cfg.dataset.get("targets"))
    if cfg.trial.number is None or len(metrics) > 1:
        return None
    trial = job_trial(cfg, instantiate(HydraConfig.get().sweeper.pruner))
    return OptunaPruning(trial, monitor="val_" + metrics[0].split("_", 1)[1])
