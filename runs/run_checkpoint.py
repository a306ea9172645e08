"""Checkpoints of every epoch in `<run>/checkpoints/`, the newest few kept, plus the best one.

Files: `epoch_<n>.keras` (n counts from 1) and `state.json`, which records the last and the best
epoch. The best epoch's file is never pruned, and `state.json` is the only record of which one is
best: no second file can disagree with it. Each epoch is one ordered transaction: the epoch's records
(`history.csv`, TensorBoard; `runs.epoch_records`), the checkpoint file (atomically), then `state.json`
(atomically), which commits it; so a run killed at any moment resumes from a complete `last`, with
records that `epoch_records.cut_back` can trim back to it.

The checkpoint file and `state.json` are written on a thread of their own while the next epoch trains:
the network's values are copied at the epoch's end (`runs.keras_archive`), and the next epoch's end
waits for the previous transaction first, so they stay in order. Saving ResNet-20 took 0.3-0.4 s of
each epoch on the training thread before (BENCHMARKS.md). `finish()` waits for the last one: the
training stage calls it however `fit` ends.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import keras

from models.base_model import training_iterations
from runs import atomic_files
from runs.checkpoints import CHECKPOINTS, checkpoint_state, epoch_checkpoints
from runs.epoch_records import EpochRecords
from runs.keras_archive import ArchiveLayout

BEST_IN_MEMORY_BYTES = 512 * 2**20
"""The best epoch's values are kept in memory for the final evaluation up to this size; a larger model's
are read back from its file, which costs little beside its training and saves host memory."""


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
        self.pending: Future | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._archive: ArchiveLayout | None = None
        self.best_in_memory: tuple[int, ArchiveLayout, list] | None = None  # (epoch, layout, values)

    def _improved(self, value: float) -> bool:
        best = self.state.get("best_value")
        if not math.isfinite(value):  # a NaN loss never becomes the best
            return False
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        self.flush()  # the previous epoch is committed before this one's records start
        self.records.write(number, dict(logs or {}), training_iterations(self.model))
        value = (logs or {}).get(self.monitor)
        improved = value is not None and self._improved(float(value))
        if improved:
            self.state.update(best_epoch=number, best_value=float(value), monitor=self.monitor)
        self.state["last_epoch"] = number
        layout = self._layout()
        if layout.usable:
            values = layout.snapshot()
            if improved:
                small = sum(value.nbytes for entry in values for value in entry) <= BEST_IN_MEMORY_BYTES
                self.best_in_memory = (number, layout, values) if small and layout.restorable else None
            self.pending = self._writer().submit(self._commit, number, lambda path: layout.write(path, values),
                                                 dict(self.state))
        else:  # assets, or saveables out of Keras's usual places: Keras's own save, on this thread
            self._commit(number, lambda path: atomic_files.save_keras(self.model, path), dict(self.state))

    def restore_best(self, epoch: int) -> bool:
        """Put epoch `epoch`'s values back into the model from memory, if that epoch is the best one this fit
        kept there (False: load its checkpoint file instead). The final evaluation then skips reading the
        file, which walks the whole model again as saving did."""
        if self.best_in_memory is None or self.best_in_memory[0] != epoch:
            return False
        _, layout, values = self.best_in_memory
        layout.restore(values)
        return True

    def _commit(self, number: int, write_archive, state: dict) -> None:
        """Epoch `number`'s checkpoint file, then `state.json` naming it, then the pruning of old epochs."""
        atomic_files.replace_atomically(self.directory / f"epoch_{number}.keras", write_archive, suffix=".keras")
        atomic_files.write_json_atomically(self.directory / "state.json", state)
        if self.keep is not None:
            saved = epoch_checkpoints(self.run_dir)
            for old in sorted(saved)[:-self.keep]:
                if old != state.get("best_epoch"):
                    saved[old].unlink(missing_ok=True)

    def _layout(self) -> ArchiveLayout:
        """The network's archive layout, taken again if its variables changed (an optimizer built late)."""
        if self._archive is None or self._archive.outdated(self.model):
            self._archive = ArchiveLayout(self.model)
        return self._archive

    def _writer(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        return self._executor

    def flush(self) -> None:
        """Wait until the last epoch handed to the writing thread is committed; raise what its writing raised."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def finish(self) -> None:
        """Commit what is pending and stop the writing thread (after `fit`, however it ended)."""
        try:
            self.flush()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def on_train_end(self, logs: dict | None = None) -> None:
        self.finish()
        self.records.close()
