"""Faults a forked `main.py` (tests/main_server.py) installs before it runs: SIGKILL at a chosen moment.

`install({"point": <name>, "epoch": n})` makes the process kill itself, with no chance to clean
up, at one of these moments of epoch n (or of the run's end):

    started          as training starts, before anything but Hydra's `.hydra/` files is written
    unrecorded       just before the run records itself (`run.json`, its resolved config)
    batch            in the middle of the epoch's training steps
    validated        after the epoch's validation, before its records
    tensorboard      after the epoch's TensorBoard points, before its history.csv row
    history_half     while the epoch's history.csv row is half written
    checkpoint_half  while `epoch_n.keras` is half written (its temporary file)
    checkpoint_whole after `epoch_n.keras`'s temporary file is complete, before its rename
    checkpointed     after `epoch_n.keras` is in place, before `state.json` is written
    state_half       while `state.json` naming the epoch is half written
    committed        after `state.json` names the epoch, before its log line and pruning
    evaluating       after training, while the best checkpoint is evaluated
    metrics_whole    after `metrics.json`'s temporary file is complete, before its rename

The checkpoint file and `state.json` are written on the checkpoint's own thread (`runs.run_checkpoint`);
a kill there kills the whole process all the same.

`install({"file_size_limit": n})` instead makes every write past n bytes of a file fail, as on a
full disk (RLIMIT_FSIZE, with SIGXFSZ ignored so the write returns an error rather than killing).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(fault: dict) -> None:
    if "file_size_limit" in fault:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fault["file_size_limit"],) * 2)
        return
    import importlib

    import keras

    import runs.atomic_files as atomic_files
    import runs.epoch_records as epoch_records
    from models.base_model import BaseModel

    train = importlib.import_module("runs.stages.train")  # the package's `train` attribute is the function

    point, epoch = fault["point"], fault.get("epoch", 0)

    class Killer(keras.callbacks.Callback):
        current = 0

        def __init__(self, checkpoint):
            super().__init__()
            self.checkpoint = checkpoint

        def on_epoch_begin(self, index, logs=None):
            self.current = index + 1

        def on_train_batch_end(self, batch, logs=None):
            if point == "batch" and self.current == epoch and batch == 2:
                die()

        def on_test_end(self, logs=None):
            if point == "validated" and self.current == epoch:
                die()

        def on_epoch_end(self, index, logs=None):
            if point == "committed" and index + 1 == epoch:
                self.checkpoint.flush()  # the epoch's transaction, written on its own thread, is complete
                die()

    for name, moment in (("plan_training", "started"), ("start_run", "unrecorded")):
        if point == moment:
            setattr(train, name, lambda *args, **kwargs: die())

    original_callbacks = train.run_callbacks

    def run_callbacks(config, run_dir, *args):
        callbacks = original_callbacks(config, run_dir, *args)
        return [callbacks[0], Killer(callbacks[0]), *callbacks[1:]]  # after RunCheckpoint: its epoch is committed first

    train.run_callbacks = run_callbacks

    targets = {"checkpoint_half": f"epoch_{epoch}.keras", "checkpoint_whole": f"epoch_{epoch}.keras",
               "state_half": "state.json", "metrics_whole": "metrics.json"}
    original_replace = atomic_files.replace_atomically

    def replace_atomically(path, write, suffix=""):
        if point == "checkpointed" and Path(path).name == "state.json" and _epoch_named(write) == epoch:
            die()
        if Path(path).name != targets.get(point) or (point == "state_half" and _epoch_named(write) != epoch):
            return original_replace(path, write, suffix)

        def faulty(temporary):
            write(temporary)
            if point.endswith("_half"):
                with open(temporary, "r+b") as handle:
                    handle.truncate(os.path.getsize(temporary) // 2)
            die()

        return original_replace(path, faulty, suffix)

    atomic_files.replace_atomically = replace_atomically

    original_row = epoch_records.EpochRecords._append_row

    def append_row(self, number, logs):
        if point == "tensorboard" and number == epoch:
            die()
        if point == "history_half" and number == epoch:
            path = self.run_dir / epoch_records.HISTORY
            with path.open("a") as handle:
                handle.write(f"{number},0.12")
                handle.flush()
            die()
        original_row(self, number, logs)

    epoch_records.EpochRecords._append_row = append_row

    original_evaluate = BaseModel.evaluate

    def evaluate(self, *args, **kwargs):
        if point == "evaluating":
            die()
        return original_evaluate(self, *args, **kwargs)

    BaseModel.evaluate = evaluate


def _epoch_named(write) -> int | None:
    """The epoch a pending `state.json` write names (read from the closure of `write_json_atomically`)."""
    for cell in getattr(write, "__closure__", None) or ():
        text = cell.cell_contents
        if isinstance(text, str) and '"last_epoch"' in text:
            import json

            return json.loads(text)["last_epoch"]
    return None
