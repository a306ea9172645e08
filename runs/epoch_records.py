"""A run's per-epoch records, `history.csv` and the TensorBoard scalars, kept equal to its checkpoints.

Epochs count from 1 everywhere: the log line `epoch 3/10`, `checkpoints/epoch_3.keras`,
`state.json`, `metrics.json`, `history.csv`'s `epoch` column, the step of TensorBoard's `epoch_*`
series and the Optuna trial's steps. `RunCheckpoint` writes an epoch's records, flushed to disk, before
its checkpoint file and `state.json`, which names that epoch; so whatever moment a run is killed
at, its records hold every epoch up to `state.json`'s, and maybe some after it. Resuming cuts the
records back to the checkpoint it continues from (`cut_back`), removes the temporary files of
interrupted writes, and training then writes the same epochs again: the resumed run's records equal
an uninterrupted run's, series by series and step by step.

TensorBoard tags are Keras's: `train/epoch_<metric>`, `validation/epoch_<metric>` and
`validation/evaluation_<metric>_vs_iterations` (its step is the optimizer's iteration count).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from runs.atomic_files import replace_atomically, write_text_atomically
from runs.untrusted import contained

HISTORY = "history.csv"
LOG_FOLDERS = ("train", "validation")
# What `atomic_files` leaves behind when a write is interrupted: `.<name>.<random>[.tmp|.keras]`.
TEMPORARY = re.compile(r"^\.(epoch_\d+\.keras|state\.json|history\.csv|metrics\.json|run\.json|model_summary\.txt|"
                       r"preprocessing\.json)\..+$")


def read_history(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's `history.csv` (one per epoch, by column name); none when it has none yet."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


class EpochRecords:
    """Writes one epoch's metrics to `history.csv` and to TensorBoard, flushed before it returns."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        import tensorflow as tf

        self.run_dir = Path(run_dir)
        self.writers = {folder: tf.summary.create_file_writer(str(self.run_dir / folder))
                        for folder in LOG_FOLDERS} if tensorboard else {}

    def write(self, epoch: int, logs: dict[str, float], iterations: int) -> None:
        import tensorflow as tf

        if not self.writers:  # logger=csv without tensorboard: the history row only
            self._append_row(epoch, logs)
            return

        split = {"train": {name: value for name, value in logs.items() if not name.startswith("val_")},
                 "validation": {name[len("val_"):]: value for name, value in logs.items() if name.startswith("val_")}}
        for folder, values in split.items():
            with self.writers[folder].as_default():
                for name, value in sorted(values.items()):
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
                    if folder == "validation":
                        tf.summary.scalar(f"evaluation_{name}_vs_iterations", value, step=iterations)
            self.writers[folder].flush()
        self._append_row(epoch, logs)

    def _append_row(self, epoch: int, logs: dict[str, float]) -> None:
        path = self.run_dir / HISTORY
        names = sorted(logs)
        if not path.exists():
            write_text_atomically(path, ",".join(["epoch", *names]) + "\n")
        with path.open("a", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerow([epoch, *(logs[name] for name in names)])
            handle.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def cut_back(run_dir: Path, epoch: int, iterations: int) -> None:
    """Make the run's records end at `epoch` (0: before the first), as they were when it was checkpointed.

    Drops `history.csv` rows after it and TensorBoard points after it (or after `iterations` for the
    `*_vs_iterations` series), including a record cut in half by a kill, and removes temporary files
    of interrupted writes.
    """
    run_dir = Path(run_dir)
    contained(run_dir, HISTORY, *LOG_FOLDERS, "checkpoints")
    for folder in (run_dir, run_dir / "checkpoints"):
        if folder.is_dir():
            for path in folder.iterdir():
                if TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
                    path.unlink()
    _cut_history(run_dir / HISTORY, epoch)
    for folder in LOG_FOLDERS:
        if (run_dir / folder).is_dir():
            for path in sorted((run_dir / folder).glob("events.out.tfevents.*")):
                contained(run_dir, f"{folder}/{path.name}")
                _cut_events(path, epoch, iterations)


def _cut_history(path: Path, epoch: int) -> None:
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if _row_epoch(line) is not None and _row_epoch(line) <= epoch
                        and line.endswith("\n")]
    if epoch == 0:
        path.unlink()
    elif kept != lines:
        write_text_atomically(path, "".join(kept))


def _row_epoch(line: str) -> int | None:
    first = next(csv.reader(io.StringIO(line)), [""])[0]
    return int(first) if first.isdigit() else None


def _cut_events(path: Path, epoch: int, iterations: int) -> None:
    """Rewrite an event file without the points after the checkpoint (and without a truncated last record)."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    kept, changed = [], False
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            if event.HasField("summary"):
                values = [value for value in event.summary.value
                          if event.step <= (iterations if value.tag.endswith("_vs_iterations") else epoch)]
                if len(values) != len(event.summary.value):
                    changed = True
                    if not values:
                        continue
                    del event.summary.value[:]
                    event.summary.value.extend(values)
            kept.append(event.SerializeToString())
    except tf.errors.DataLossError:  # the kill cut the last record short
        changed = True
    if not changed:
        return

    def write(temporary: Path) -> None:
        with tf.io.TFRecordWriter(str(temporary)) as writer:
            for record in kept:
                writer.write(record)

    replace_atomically(path, write)
