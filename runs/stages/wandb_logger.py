"""logger=wandb: a run's parameters, every epoch's metrics, the best checkpoint's final metrics and its pictures
in a Weights & Biases run.

Offline unless there is somewhere to send it: with no API key (`WANDB_API_KEY`, or the entry `wandb login`
writes into ~/.netrc) the W&B run is written into the run folder, `<run>/wandb/offline-run-<time>-<id>/`,
and `wandb sync <run>/wandb/offline-run-*` uploads it later; `logger.wandb.mode` (`online`, `offline`,
`disabled`) or `WANDB_MODE` decide otherwise. Offline, nothing is sent anywhere.

The W&B run's id is kept in `<run>/wandb.json` (written before W&B starts), so a resumed run goes on in the
same W&B run (`resume="allow"`). Each epoch is logged at step = epoch. W&B buffers in a process of its own,
and a run killed with SIGKILL loses what it had not written yet; so a run that starts or resumes logs first the
epochs its history.csv holds (already cut back to the checkpoint it continues from) from the step W&B says
comes next: the server's next step online, 0 offline, where each process writes a file of its own. A
sweep's trials are grouped by the study's name.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import keras
from omegaconf import DictConfig

from runs.atomic_files import write_json_atomically
from runs.epoch_records import read_history
from runs.record import flat_params, tracking_name
from runs.untrusted import contained

log = logging.getLogger("train")
RECORD = "wandb.json"
RUN_ID = re.compile(r"[a-z0-9]{1,64}")  # what wandb's generate_id makes, and all this project reads back


def run_mode(settings: dict) -> str:
    """`logger.wandb.mode`, else `WANDB_MODE`, else online when an API key is at hand and offline otherwise."""
    chosen = settings.get("mode") or os.environ.get("WANDB_MODE")
    if chosen:
        return chosen
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return "online" if netrc.netrc(os.environ.get("NETRC")).authenticators(host) else "offline"
    except (OSError, netrc.NetrcParseError):  # no ~/.netrc, or one netrc cannot read
        return "offline"


def recorded_id(run_dir: Path) -> str | None:
    """The W&B run id `<run>/wandb.json` holds, read as data from someone else: a short id or nothing."""
    record = Path(run_dir) / RECORD
    if not record.is_file() or record.is_symlink() or record.stat().st_size > 4096:
        return None
    try:
        run_id = json.loads(record.read_text()).get("id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return run_id if isinstance(run_id, str) and RUN_ID.fullmatch(run_id) else None


def open_run(config: DictConfig, run_dir: Path, settings: dict):
    """This process's W&B run of the job: the one already open, or a new process of it (`resume="allow"`)."""
    import wandb

    if wandb.run is not None:
        return wandb.run
    run_dir = Path(run_dir)
    contained(run_dir, RECORD, "wandb")  # W&B writes into <run>/wandb/: a planted link must not lead it elsewhere
    run_id = recorded_id(run_dir)
    trial = config.get("trial") or {}
    number = trial.get("number")  # a sweep's trial, or None
    project = settings.get("project") or tracking_name(config)
    if run_id is None:
        from wandb.sdk.lib.runid import generate_id

        run_id = generate_id()
        write_json_atomically(run_dir / RECORD, {"id": run_id, "project": project, "entity": settings.get("entity")})
    mode = run_mode(settings)
    try:
        run = wandb.init(
            id=run_id, resume="allow", mode=mode, dir=str(run_dir), project=project, entity=settings.get("entity"),
            group=settings.get("group") or trial.get("study_name"), job_type="train" if number is None else "trial",
            name=run_dir.name if number is None else f"trial {number}",
            tags=list(settings.get("tags") or []), config=flat_params(config),
            settings=wandb.Settings(silent=True, console="off"))
    except Exception as error:  # a bad WANDB_* variable, a refused key, an unreachable server: W&B's words
        from conf.errors import UserError

        raise UserError(f"logger=wandb: W&B could not start the run in mode {mode}: "
                        f"{' '.join(str(error).split())[:400]}") from None
    where = f"{run_dir / 'wandb'} (wandb sync uploads it)" if mode == "offline" else mode
    log.info("W&B: run %s of project %s, %s", run_id, project, where)
    return run


class WandbLogger(keras.callbacks.Callback):
    """Opens (or, on resume, reopens) the job's W&B run and logs every epoch's metrics at step = epoch; the
    run stays open for `log_final_metrics`."""

    def __init__(self, config: DictConfig, run_dir: Path, settings: dict) -> None:
        super().__init__()
        self.config, self.run_dir, self.settings = config, Path(run_dir), settings or {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.run = open_run(self.config, self.run_dir, self.settings)
        first = max(self.run.step, 1)  # W&B refuses a step lower than one it has
        for row in read_history(self.run_dir):
            if int(row["epoch"]) >= first:
                self.run.log({name: float(value) for name, value in row.items() if name != "epoch" and value != ""},
                             step=int(row["epoch"]))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.run.log({name: float(value) for name, value in (logs or {}).items()}, step=epoch + 1)


def log_final_metrics(config: DictConfig, run_dir: Path, settings: dict, metrics: dict[str, float], epochs: int,
                      pictures: list[Path]) -> None:
    """The best checkpoint's metrics on every split (`final_<split>_<metric>` in the run's summary) and the
    run's pictures, then the W&B run ends."""
    import wandb

    run = open_run(config, run_dir, settings or {})
    run.summary.update({f"final_{name}": float(value) for name, value in metrics.items()})
    images = {path.stem: wandb.Image(str(path)) for path in pictures if path.is_file()}
    if images:
        run.log(images, step=max(epochs, run.step))
    run.finish()


def abandon() -> None:
    """End this process's W&B run as failed (a job that raised), before its folder may be removed."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.run.finish(exit_code=1)
