"""The training stage: a fresh run, the resumption of an interrupted one, or a branch from a checkpoint.

    python main.py                                         # fresh: a new run folder
    python main.py run=<run>                               # resume <run> in place from its last checkpoint
    python main.py run=<run> checkpoint=epoch_3 trainer.epochs=20   # branch: a new run from epoch 3

Each then seeds, prepares the data, builds the model, fits, evaluates the best checkpoint on every
split and writes `metrics.json`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from conf.errors import UserError
from data.pipeline import evaluation_batches, split_source, training_batches, truncated
from data.prepare import SPLITS, prepare_dataset, read_manifest
from data.preprocessing import Preprocessing
from models import build_model
from models.base_model import BaseModel, training_iterations
from runs.atomic_files import write_json_atomically, write_text_atomically
from runs.checkpoints import checkpoint_state, resolve_checkpoint
from runs.devices import configure_devices
from runs.epoch_records import cut_back
from runs.folder import PREPROCESSING, load_preprocessing
from runs.record import fix_seed, record_run, start_run
from runs.training_plan import plan_training

log = logging.getLogger("train")


def run_callbacks(config: DictConfig, run_dir: Path, steps: int | None = None) -> list:
    """What a run writes while it trains: each epoch's records (history.csv and TensorBoard), checkpoint
    and state.json, in that order (`RunCheckpoint`, first: `finish()` it after fit), then its log line."""
    import keras

    from conf.schema import metric_mode, model_metrics
    from runs.run_checkpoint import RunCheckpoint
    from runs.stages.epoch_logger import EpochLogger

    trainer = config.trainer
    loggers = chosen_loggers(config)
    mode = metric_mode(trainer.monitor, model_metrics(config))
    callbacks = [
        RunCheckpoint(run_dir, monitor=trainer.monitor, keep=trainer.keep_checkpoints,
                      tensorboard="tensorboard" in loggers, mode=mode),
        EpochLogger(trainer.epochs, steps),
    ]
    if "mlflow" in loggers:
        from runs.stages.mlflow_logger import MlflowLogger

        callbacks.append(MlflowLogger(config, run_dir, loggers["mlflow"]))
    if "wandb" in loggers:
        from runs.stages.wandb_logger import WandbLogger

        callbacks.append(WandbLogger(config, run_dir, loggers["wandb"]))
    if trainer.profile_steps:
        callbacks.append(profiler(run_dir / "train", *trainer.profile_steps))
    if trainer.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=trainer.monitor, mode=mode, patience=trainer.early_stopping_patience))
    return callbacks


def training_preprocessing(run_dir: Path, manifest: dict, config: DictConfig) -> Preprocessing:
    """The run's input (and target) normalisation: its record when it resumes, else the prepared
    data's train statistics, recorded now so that every later stage applies the same."""
    if (run_dir / PREPROCESSING).exists():
        return load_preprocessing(run_dir, config)
    preprocessing = Preprocessing.from_manifest(manifest, config.dataset)
    write_json_atomically(run_dir / PREPROCESSING, preprocessing.as_dict())
    return preprocessing


@contextlib.contextmanager
def out_of_memory_as_user_error(config: DictConfig):
    """Running out of memory building the model or in a step is a setting to reduce, not a bug."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.ResourceExhaustedError, MemoryError):
        raise UserError(f"out of memory building or training model={config.model._target_.rsplit('.', 1)[-1]} "
                        f"with trainer.batch_size={config.trainer.batch_size}: reduce trainer.batch_size or the "
                        "model's size") from None


def chosen_loggers(config: DictConfig) -> dict:
    """`logger=` as {name: settings}; a run recorded before loggers were chosen had TensorBoard."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(config.logger) if config.get("logger") else {"tensorboard": {}}


def profiler(log_dir: Path, first: int, last: int):
    """A callback tracing training steps first..last (counted from 1 in the run) with TensorFlow's
    profiler, where TensorBoard's Profile tab reads it (`<run>/train/plugins/profile/`)."""
    import keras
    import tensorflow as tf

    class Profiler(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step, self.tracing = training_iterations(self.model), False

        def on_train_batch_begin(self, batch, logs=None):
            self.step += 1
            if self.step == first:
                tf.profiler.experimental.start(str(log_dir))
                self.tracing = True

        def on_train_batch_end(self, batch, logs=None):
            if self.tracing and self.step >= last:
                tf.profiler.experimental.stop()
                self.tracing = False
                log.info("profiled training steps %d-%d into %s", first, last, log_dir)

        def on_train_end(self, logs=None):
            if self.tracing:
                tf.profiler.experimental.stop()

    return Profiler()


@contextlib.contextmanager
def numeric_errors_as_user_error(check: bool):
    """trainer.check_numerics: TensorFlow checks every op's output and the first NaN or Inf stops training
    with one line naming the op (and the run keeps its checkpoints up to the epoch before)."""
    if not check:
        yield
        return
    import tensorflow as tf

    tf.get_logger().setLevel("WARNING")  # not "Enabled check-numerics callback in thread MainThread"
    tf.debugging.enable_check_numerics()
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        text = " ".join(str(error.message).split())
        if "NaN" not in text and "Infinity" not in text:
            raise
        op = re.search(r"Detected at node (\S+?)(?:/CheckNumerics\w*)?\s", text) or re.search(
            r'of (?:graph|eagerly-executing) op "([^"]+)"', text)
        raise UserError(f"trainer.check_numerics: the first NaN or Inf of this run appeared in the output of "
                        f"{op.group(1) if op else 'an op'}; look at the learning rate, the inputs and the loss") from None
    finally:
        tf.debugging.disable_check_numerics()


def trial_callback(config: DictConfig):
    """The callback the sweeper hands a trial through `trial.callback` (e.g. Optuna pruning), or None.

    It needs `pruned_at` (the epoch it stopped training at, or None), `last_logs` (that epoch's
    metrics) and `pruned_exception()` (what the job raises once its folder records the stop).
    The schema only admits functions of the `hpsearch` package.
    """
    if config.trial.callback is None:
        return None
    from hydra.utils import get_method

    return get_method(config.trial.callback)(config)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train as `plan_training` decides; returns flat metrics such as `val_accuracy`, `test_loss`."""
    started = time.perf_counter()
    plan = plan_training(cfg)
    config, run_dir = plan.config, plan.run_dir
    folder = prepare_dataset(config.dataset, cfg.data_dir)  # before any record: a missing dataset leaves no run
    strategy = configure_devices(config.trainer)  # an unknown device, too
    BaseModel.seed_everything(fix_seed(config), config.trainer.deterministic)
    manifest = read_manifest(folder)
    preprocessing = training_preprocessing(run_dir, manifest, config)
    splits = {split: split_source(folder, manifest, split, config.dataset, preprocessing) for split in SPLITS}
    batch_size = config.trainer.batch_size
    if batch_size > splits["train"].count:  # it trains, but on one short batch an epoch: say so
        log.warning("trainer.batch_size=%d is larger than the %d examples of the train split: each epoch is one "
                    "batch of %d", batch_size, splits["train"].count, splits["train"].count)
    cut = truncated(splits["train"])
    if cut:
        log.info("dataset.max_length=%d cuts %d of the %d train sequences (their lengths: %s)",
                 config.dataset.max_length, cut, splits["train"].count,
                 {key: value for key, value in manifest["splits"]["train"]["lengths"].items() if key != "histogram"})

    @functools.cache
    def evaluation(split: str):
        """The split's evaluation pipeline, built when first needed and then reused: validation during
        fit and at the end, the test split for its metrics and its confusion matrix (a build traces its
        functions again, ~40 ms; a pruned trial builds only validation's)."""
        return evaluation_batches(splits[split], batch_size, config.trainer.limit_batches)

    pruning = trial_callback(config)
    with out_of_memory_as_user_error(config), strategy.scope():
        model = build_model(config, preprocessing)
    start_run(config)  # once the model is built: a model that does not fit the data is one line, not a run
    if plan.restarted_from is not None:  # killed before it recorded itself: the run's own record, now
        record_run(run_dir, config, plan.restarted_from)
    write_text_atomically(run_dir / "model_summary.txt", model.summary() + "\n")
    fit_started = time.perf_counter()
    if plan.start_from is not None:
        model.load_checkpoint(plan.start_from)
        log.info("continuing from %s (epoch %d)", plan.start_from, plan.first_epoch)
    trainer = config.trainer
    limit = trainer.limit_batches
    steps = min(splits["train"].training_steps(batch_size), trainer.overfit_batches or limit or 2**62)
    cut_back(run_dir, plan.first_epoch, plan.first_epoch * steps)  # a resumed run's records end where it resumes
    callbacks = []
    if plan.first_epoch < trainer.epochs:
        callbacks = run_callbacks(config, run_dir, steps)
        try:
            with out_of_memory_as_user_error(config), numeric_errors_as_user_error(trainer.check_numerics):
                model.fit(
                    training_batches(splits["train"], batch_size, config.seed, plan.first_epoch, trainer.epochs,
                                     limit=limit, overfit=trainer.overfit_batches),
                    evaluation("val"),
                    steps_per_epoch=steps, initial_epoch=plan.first_epoch,
                    callbacks=(*callbacks, *([pruning] if pruning else [])))
        except BaseException:
            with contextlib.suppress(Exception):  # fit's own error is the one to report
                callbacks[0].finish()
            if "wandb" in chosen_loggers(config):
                from runs.stages.wandb_logger import abandon

                with contextlib.suppress(Exception):
                    abandon()
            raise
        callbacks[0].finish()  # fit returned: its last epoch is committed before anything reads it
    fit_time = time.perf_counter() - fit_started

    state = checkpoint_state(run_dir)
    best_path, best_epoch = resolve_checkpoint(run_dir, "best")
    pruned = bool(pruning and pruning.pruned_at)
    if pruned:  # the sweep only needs to know it stopped; evaluating every split would cost more than that
        results = {"val": {name[len("val_"):]: value for name, value in pruning.last_logs.items()
                           if name.startswith("val_")}}
    else:
        if not (callbacks and callbacks[0].restore_best(best_epoch)):
            model.load_checkpoint(best_path)
        results = {split: model.evaluate(evaluation(split)) for split in splits}
    metrics = {
        **results,
        "epochs_run": state["last_epoch"],
        "best_epoch": best_epoch,
        "seed": config.seed,
        "fit_time_s": round(fit_time, 3),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    if pruned:
        metrics["pruned_at_epoch"] = pruning.pruned_at
    write_json_atomically(run_dir / "metrics.json", metrics)
    if not pruned:
        draw_pictures(model, run_dir, config, evaluation("test") if splits["test"].count else None, manifest,
                      best_epoch)
    loggers = chosen_loggers(config)
    if "mlflow" in loggers:
        from runs.stages.mlflow_logger import log_final_metrics

        log_final_metrics(run_dir, flat_metrics(results), run_dir / "learning_curves.png")
    if "wandb" in loggers:
        from runs.stages import wandb_logger

        wandb_logger.log_final_metrics(config, run_dir, loggers["wandb"], flat_metrics(results), state["last_epoch"],
                                       [run_dir / "learning_curves.png", run_dir / "confusion_matrix.png"])
    flat = flat_metrics(results)
    if pruned:
        log.info("pruned after epoch %d: %s", pruning.pruned_at,
                 " ".join(f"{name}={value:.4f}" for name, value in sorted(flat.items())))
        raise pruning.pruned_exception()
    log.info("best epoch %d: %s", best_epoch, " ".join(f"{name}={value:.4f}" for name, value in sorted(flat.items())))
    if sys.stderr.isatty():  # a summary table on a terminal; the line above is what a log file keeps
        print_summary(results, best_epoch, run_dir)
    return flat


def print_summary(results: dict[str, dict[str, float]], best_epoch: int, run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    names = sorted({name for values in results.values() for name in values})
    table = Table("split", *names, title=f"best epoch {best_epoch}: {run_dir}")
    for split, values in results.items():
        table.add_row(split, *(f"{values[name]:.4f}" if name in values else "" for name in names))
    Console(stderr=True).print(table)


def draw_pictures(model: BaseModel, run_dir: Path, config: DictConfig, test, manifest: dict,
                  best_epoch: int) -> None:
    """learning_curves.png, and for classification confusion_matrix.png of the best checkpoint on the test split
    (`test`: its evaluation batches, None when it is empty; drawn where the model's outputs name a `class`)."""
    import numpy as np

    from conf.schema import optimized_metrics
    from runs.plots import confusion_matrix, learning_curves

    # the loss, the task's (or first named target's) main metric, and the first two a model of its own reports
    main = optimized_metrics(None, config.dataset.task, config.dataset.get("targets"))[0].removeprefix("val_")
    learning_curves(run_dir, ["loss", main, *list(model.reported_metrics)[:2]], best_epoch)
    if config.dataset.task != "classification" or config.dataset.get("targets") or test is None:
        return
    classified = classified_test_split(model, test)
    if classified is None:  # the model's outputs name no `class`
        return
    names = [str(name) for name in manifest.get("class_names") or range(config.dataset.num_classes)]
    confusion_matrix(run_dir, *classified, names)


def classified_test_split(model: BaseModel, test, chunk: int = 1024):
    """(true labels, predicted classes) over the test batches, or None where the model's outputs have no
    `class`. `outputs` runs eagerly, and an eager call pays Python's cost for every layer once, whatever its
    batch: consecutive batches of one shape are joined up to `chunk` examples a call (ResNet-20 on digits'
    269 test images: one call instead of 9, about 1 s less), so memory stays bounded on any test split."""
    import numpy as np
    import tensorflow as tf

    labels, predicted, waiting = [], [], []

    def shapes(x) -> list:
        return [tuple(part.shape[1:]) for part in tf.nest.flatten(x)]

    def call() -> bool:
        x = waiting[0] if len(waiting) == 1 else tf.nest.map_structure(lambda *parts: tf.concat(parts, 0), *waiting)
        waiting.clear()
        classes = model.outputs(x).get("class")
        if classes is not None:
            predicted.append(np.asarray(classes).reshape(-1))
        return classes is not None

    waiting_count = 0
    for x, y in test:
        if waiting and (waiting_count >= chunk or shapes(x) != shapes(waiting[0])):
            if not call():
                return None
            waiting_count = 0
        waiting.append(x)
        labels.append(y.numpy().reshape(-1))
        waiting_count += len(labels[-1])
    if waiting and not call():
        return None
    return np.concatenate(labels), np.concatenate(predicted)


def flat_metrics(results: dict[str, dict[str, float]]) -> dict[str, float]:
    """{"val": {"accuracy": a}} -> {"val_accuracy": a}: the names `optimized_metric` uses."""
    return {f"{split}_{name}": value for split, values in results.items() for name, value in values.items()}


