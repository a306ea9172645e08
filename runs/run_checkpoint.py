"""Checkpoints of every epoch in `<run>/checkpoints/`, the newest few kept, plus the best one.

Files: `epoch_<n>.keras` (n counts from 1) and `state.json`, which records the last and the best
epoch. The best epoch's file is never pruned, and `state.json` is the only record of which one is
best: no second file can disagree with it. Each epoch is one ordered transaction: the checkpoint
file (atomically), the epoch's records (`history.csv`, TensorBoard; `runs.epoch_records`), then
`state.json` (atomically), which commits it; so a run killed at any moment resumes from a complete
`last`, with records that `epoch_records.cut_back` can trim back to it.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras

from models.base_model import training_iterations
from runs.atomic_files import save_keras_atomically, write_json_atomically
from runs.checkpoints import CHECKPOINTS, checkpoint_state, epoch_checkpoints
from runs.epoch_records import EpochRecords


class RunCheckpoint(keras.callbacks.Callback):
    """Save the model after every epoch; keep the `keep` newest epochs (None keeps all) and the best.

    Args:
        run_dir: the run folder; checkpoints go to its `checkpoints/`, which continues where an
            earlier, interrupted fit of the same run left it.
        monitor: the epoch metric that decides the best checkpoint (`val_loss`, `val_accuracy`, ...).
        mode: `min` or `max`, whether a lower or a higher `monitor` is better.
        keep: how many of the newest epoch checkpoints to keep besides the best; None keeps every epoch.
        tensorboard: also write each epoch's scalars for TensorBoard (history.csv is always written).
    """

    def __init__(self, run_dir: Path, monitor: str = "val_loss", keep: int | None = 3, tensorboard: bool = True,
                 mode: str = "min") -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.directory = self.run_dir / CHECKPOINTS
        self.monitor = monitor
        self.keep = keep
        self.mode = mode
        self.state = checkpoint_state(self.run_dir)
        self.records = EpochRecords(self.run_dir, tensorboard)

    def _improved(self, value: float) -> bool:
        best = self.state.get("best_value")
        if not math.isfinite(value):  # a NaN loss never becomes the best
            return False
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        epoch_path = self.directory / f"epoch_{number}.keras"
        save_keras_atomically(self.model, epoch_path)
        self.records.write(number, dict(logs or {}), training_iterations(self.model))
        value = (logs or {}).get(self.monitor)
        if value is not None and self._improved(float(value)):
            self.state.update(best_epoch=number, best_value=float(value), monitor=self.monitor)
        self.state["last_epoch"] = number
        write_json_atomically(self.directory / "state.json", self.state)
        if self.keep is not None:
            saved = epoch_checkpoints(self.run_dir)
            for old in sorted(saved)[:-self.keep]:
                if old != self.state.get("best_epoch"):
                    saved[old].unlink(missing_ok=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.records.close()
