"""One line at the end of the first epoch when the logs lack a metric the run needs.

`trainer.monitor`, `optimized_metric` and a model's `reported_metrics` are checked against names
before TensorFlow starts; whether a network of one's own really reports them is only known once it
has trained an epoch. Checked before any checkpoint is written, so a run that fails here leaves no
folder behind.
"""

from __future__ import annotations

import keras

from conf.errors import UserError


class ReportedMetricsCheck(keras.callbacks.Callback):
    """After the first epoch run, raise UserError naming the first needed metric missing from the logs.

    Args:
        needed: `{log name: the setting that needs it}` (`{"val_kl_loss": "VAE.reported_metrics"}`).
        where: the model's file, named in the message.
    """

    def __init__(self, needed: dict[str, str], where: str) -> None:
        super().__init__()
        self.needed, self.where, self.checked = needed, where, False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.checked:
            return
        self.checked = True
        reported = sorted(name for name in (logs or {}) if name != "learning_rate")
        for name, setting in self.needed.items():
            if name not in (logs or {}):
                raise UserError(f"{setting} needs {name}, but {self.where} reported {', '.join(reported) or 'nothing'} "
                                "in its first epoch: report it from the step or name one of these")
