"""One log line per epoch, so the run's log file holds the whole training curve in text; on a terminal,
also a progress bar per epoch (steps, time left, the running loss and metric)."""

from __future__ import annotations

import logging
import sys

import keras

log = logging.getLogger("train")


class EpochLogger(keras.callbacks.Callback):
    """Logs `epoch n/N` and every metric of the epoch (loss, accuracy, their val_ twins, learning rate).

    When stderr is a terminal, each epoch also shows a rich progress bar that the log line replaces
    when the epoch ends; in a log file or a pipe there is only the line.
    """

    def __init__(self, epochs: int, steps: int | None = None, console=None) -> None:
        super().__init__()
        self.epochs, self.steps = epochs, steps
        self.console = console  # a rich Console to draw on; None: stderr when it is a terminal, else no bar
        self.show_progress = console is not None or sys.stderr.isatty()
        self.progress = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if not self.show_progress:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn(f"epoch {epoch + 1}/{self.epochs}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.description}"), transient=True,
                                 console=self.console or Console(stderr=True))
        self.progress.start()
        self.task = self.progress.add_task("", total=self.steps)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.progress is not None:
            shown = " ".join(f"{name}={value:.4g}" for name, value in sorted((logs or {}).items())
                             if isinstance(value, (int, float)))
            self.progress.update(self.task, completed=batch + 1, description=shown)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        values = " ".join(f"{name}={value:.4g}" for name, value in sorted((logs or {}).items()))
        log.info("epoch %d/%d %s", epoch + 1, self.epochs, values)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.progress is not None:
            self.progress.stop()
