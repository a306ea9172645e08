"""logger=mlflow: a run's parameters, per-epoch metrics and final metrics in MLflow, linked to its folder.

By default a SQLite store, `<results_dir>/mlflow.db`, with artifacts in `<results_dir>/mlartifacts`: MLflow's
own recommendation for a local store (its file store is in maintenance mode in MLflow 3, and its client
refuses to read one unless told to), read by `MlflowClient("sqlite:///results/mlflow.db")` and by
`mlflow ui --backend-store-uri sqlite:///results/mlflow.db` (the full `mlflow` package). No server is needed.
`logger.mlflow.tracking_uri` names any other store (`http://host:5000`, `file:...`). The MLflow run's id is
kept in `<run>/mlflow.json`, so a resumed run goes on logging into the same MLflow run; a sweep's trials are
runs of one MLflow experiment named after the study.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import keras
from omegaconf import DictConfig

from runs.atomic_files import write_json_atomically
from runs.epoch_records import read_history
from runs.record import flat_params, tracking_name

log = logging.getLogger("train")
RECORD = "mlflow.json"


def _client(tracking_uri: str):
    if tracking_uri.startswith("file:"):  # a file store the user chose: MLflow 3 refuses it unless told
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow


def default_store(results_dir: str | Path) -> tuple[str, str]:
    """The default tracking URI (a SQLite database) and artifact location (a folder), both in `results_dir`."""
    results = Path(results_dir).resolve()
    return f"sqlite:///{results / 'mlflow.db'}", (results / "mlartifacts").as_uri()


def use_experiment(mlflow, name: str, artifact_location: str | None) -> None:
    """Make `name` the active experiment, created with `artifact_location` if it is new; a sweep's trials
    starting together may race to create it: the loser uses the winner's."""
    from mlflow.exceptions import MlflowException

    with store_lock(mlflow.get_tracking_uri()):  # parallel trials creating the database's tables at once fail
        if artifact_location is not None and mlflow.get_experiment_by_name(name) is None:
            try:
                mlflow.create_experiment(name, artifact_location=artifact_location)
            except MlflowException:
                if mlflow.get_experiment_by_name(name) is None:
                    raise
        mlflow.set_experiment(name)


@contextlib.contextmanager
def store_lock(tracking_uri: str):
    """An exclusive lock beside a SQLite store while it is opened: its first opening creates and migrates its
    tables, which trials of a sweep starting together would otherwise race to do (on one machine; on a cluster,
    give a server URI: SQLite on a network file system is not safe)."""
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    lock = Path(tracking_uri[len("sqlite:///"):] + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mlflow_params(config: DictConfig) -> dict[str, str]:
    """The flattened settings as MLflow keeps parameters: strings of at most 6000 characters (lists, booleans
    and nulls as JSON)."""
    return {key: (json.dumps(value) if isinstance(value, (list, bool)) or value is None else str(value))[:6000]
            for key, value in flat_params(config).items()}


class MlflowLogger(keras.callbacks.Callback):
    """Opens (or, on resume, reopens) the run's MLflow run and logs every epoch's metrics at step = epoch."""

    def __init__(self, config: DictConfig, run_dir: Path, settings: dict) -> None:
        super().__init__()
        self.config, self.run_dir = config, Path(run_dir)
        self.tracking_uri, self.artifact_location = (settings["tracking_uri"], None) if settings.get(
            "tracking_uri") else default_store(config.results_dir)
        study = config.get("trial", {}).get("study_name") if config.get("trial") else None
        self.experiment = settings.get("experiment_name") or study or tracking_name(config)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.logged: set[int] = set()
        record = self.run_dir / RECORD
        if record.is_file() and not record.is_symlink():  # a resumed run logs on into its MLflow run
            saved = json.loads(record.read_text())
            recorded = str(saved.get("tracking_uri", ""))
            # the store it began in (a run begun before the default became SQLite: its file store), when that
            # is a local store; a record from elsewhere cannot send this run's data to another host
            mlflow = _client(recorded if recorded.startswith(("sqlite:///", "file:")) else self.tracking_uri)
            run_id = saved.get("run_id")
            mlflow.start_run(run_id=run_id)
            self.catch_up(mlflow, run_id)
            return
        mlflow = _client(self.tracking_uri)
        use_experiment(mlflow, self.experiment, self.artifact_location)
        run = mlflow.start_run(run_name=self.run_dir.name if not self.run_dir.name.isdigit()
                               else f"trial {self.run_dir.name}")
        mlflow.log_params(mlflow_params(self.config))
        mlflow.set_tags({"run_folder": str(self.run_dir.resolve()), "model": self.config.model._target_,
                         "dataset": self.config.dataset.name, "experiment": str(self.config.get("experiment"))})
        write_json_atomically(record, {"tracking_uri": self.tracking_uri, "run_id": run.info.run_id,
                                       "experiment": self.experiment})
        log.info("MLflow: run %s of experiment %s in %s", run.info.run_id, self.experiment, self.tracking_uri)

    def catch_up(self, mlflow, run_id: str) -> None:
        """Epochs the run recorded (history.csv, already cut back to its last checkpoint) that MLflow lacks:
        a run killed after its checkpoint but before this callback logged the epoch. Then each epoch is
        logged once, however often the run was killed and resumed."""
        rows = read_history(self.run_dir)
        if not rows:
            return
        names = [name for name in rows[0] if name != "epoch"]
        client = mlflow.MlflowClient()
        self.logged = {int(m.step) for m in client.get_metric_history(run_id, names[0])} if names else set()
        for row in rows:
            epoch = int(row["epoch"])
            if epoch not in self.logged:
                mlflow.log_metrics({name: float(row[name]) for name in names if row[name] != ""}, step=epoch)
                self.logged.add(epoch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        import mlflow

        if epoch + 1 in self.logged:  # logged before the run was killed, and trained again identically
            return
        mlflow.log_metrics({name: float(value) for name, value in (logs or {}).items()}, step=epoch + 1)
        self.logged.add(epoch + 1)

    def on_train_end(self, logs: dict | None = None) -> None:
        import mlflow

        mlflow.end_run()


def log_final_metrics(run_dir: Path, metrics: dict[str, float], picture: Path) -> None:
    """The best checkpoint's metrics on every split (and the learning curves) in the run's MLflow run."""
    record = Path(run_dir) / RECORD
    if not record.is_file():
        return
    saved = json.loads(record.read_text())
    mlflow = _client(saved["tracking_uri"])
    with mlflow.start_run(run_id=saved["run_id"]):
        mlflow.log_metrics({f"final_{name}": float(value) for name, value in metrics.items()})
        if picture.is_file():
            mlflow.log_artifact(str(picture))
