"""The single entry point: `python main.py model=mlp dataset=digits stage=train` (see README.md).

Hydra composes `conf/config.yaml` with the chosen `model`, `dataset`, `optimizer`, `trainer` and
`stage` groups and the shell's overrides, typed by `conf/schema.py` and the schemas that `models`
and `data` register when imported; `main` checks the values, dispatches to the stage
(`runs/stages/`) and returns `optimized_metric` for a sweeper.
"""

import contextlib
import logging
import os
import re
import shutil
import sys
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ warnings after start-up
# A job that another process runs (a Slurm job, a submitit or joblib worker) unpickles this project's
# functions, so it must import the project wherever the command started: its processes inherit this.
os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(
    [str(Path(__file__).resolve().parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

import data.sources  # noqa: F401 -- registers every dataset's schema
import models  # noqa: F401 -- registers every model's schema
from conf import CONF_DIR
from conf.errors import UserError, exit_with_message, first_line, is_disk_full, one_line_error
from conf.hydra_shortcuts import list_config_groups_only_when_shown, rewritten_arguments, skip_hydras_mode_probe
from conf.schema import optimized_metrics, register_configs, validate_config
from hpsearch.promote import apply_best
from runs.output_dirs import claimed_job_folder, discard_claims, register_resolvers

register_configs()
register_resolvers()
log = logging.getLogger("main")
# What a sweep imports once before it forks its parallel trials (hpsearch.trial_process.preload).
PRELOAD = ("tensorflow", "keras", "runs.stages")
TRACEBACKS = {"wanted": False}  # whether the user set HYDRA_FULL_ERROR=1 (run_reporting_user_errors sets it for Hydra)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Run the configured stage; return the metric(s) named by `optimized_metric` (None for infer, export)."""
    try:
        if cfg.best:
            apply_best(cfg)
        validate_config(cfg)
        with native_stderr_silenced():  # TensorFlow's C++ start-up chatter
            import tensorflow as tf

            from runs.stages import STAGES

            tf.config.list_physical_devices()
        try:
            metrics = STAGES[cfg.stage.name](cfg)
        except UserError:
            raise
        except Exception as error:  # a full disk, or a config value no schema check caught (one line either way)
            message = one_line_error(error)
            raise disk_full_error(error) or (UserError(message) if message else error) from None
    except UserError as error:
        discard_unused_run_folder(Path(cfg.results_dir))
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweeper records the failed job (Hydra's basic one stops and names its overrides)
        exit_with_message(str(error))
    except Exception as error:  # a bug in a model or dataset of one's own (or of the project): nothing is left either
        discard_unused_run_folder(Path(cfg.results_dir))
        if HydraConfig.get().mode == RunMode.MULTIRUN or TRACEBACKS["wanted"]:
            raise
        print(f"error: {failure_line(error, cfg)} (HYDRA_FULL_ERROR=1 shows the traceback)", file=sys.stderr)
        raise SystemExit(1) from None
    names = optimized_metrics(cfg.optimized_metric, cfg.dataset.task, cfg.dataset.get("targets"))
    if not set(names) <= set(metrics):  # infer and export measure nothing
        return None
    values = [float(metrics[name]) for name in names]
    log.info("%s (optimized_metric, returned to the sweeper)",
             " ".join(f"{name}={value:.6g}" for name, value in zip(names, values)))
    return values if OmegaConf.is_list(cfg.optimized_metric) else values[0]


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block.

    TensorFlow's C++ runtime prints several lines at import and device discovery, before its
    log level applies; they would bury the one-line errors and the logs that follow. Python
    exceptions raised in the block still surface once it ends.
    """
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def failure_line(error: BaseException, cfg: DictConfig) -> str:
    """One line for an unexpected error: where it happened (the deepest line of a model or dataset file, or
    the model's file) and the error's type and first line."""
    from conf import PROJECT_ROOT

    driver = ("main.py", "runs/", "conf/", "data/pipeline.py", "data/prepare.py", "data/shards.py",
              "models/base_model.py", "models/__init__.py", "models/callbacks/")
    frames = [(frame.f_code.co_filename, line, frame.f_code.co_name)
              for frame, line in traceback.walk_tb(error.__traceback__)]
    frames += [(file, int(line), name) for file, line, name in
               re.findall(r'File "([^"]+)", line (\d+), in (\w+)', str(error))]  # AutoGraph's traced code
    place = None
    for file, line, name in frames:
        path = Path(file).resolve()
        if path.is_relative_to(PROJECT_ROOT) and not str(path.relative_to(PROJECT_ROOT)).startswith(driver):
            place = f"{path.relative_to(PROJECT_ROOT)}, line {line}, in {name}"
    if place is None:
        try:
            import models

            place = f"model={cfg.model._target_} ({models.registered_class(cfg.model._target_).where()})"
        except Exception:  # no model in the config, or not a registered one
            place = f"stage={cfg.stage.name}"
    return f"{place}: {type(error).__name__}: {first_line(error)}"


def discard_unused_run_folder(results_dir: Path) -> None:
    """Remove this job's folder, and parents left empty below results_dir, unless it holds training
    progress (`checkpoints/state.json`): a job refused for bad input, or one that failed before its
    first checkpoint (or, as evaluate, infer and export, before it finished), leaves nothing behind, and
    `run=latest` never finds it. The folder is the job's own: `unique_dir` created it for this job, or
    `OutputDirGuard` checked that a folder given by hand was new or empty."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if not run_dir.is_dir() or run_dir.is_symlink() or (run_dir / "checkpoints" / "state.json").exists():
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    for parent in run_dir.parents:
        if parent.resolve() == results_dir.resolve() or any(parent.iterdir()):
            break
        parent.rmdir()


def run_reporting_user_errors() -> None:
    """Call `main`, turning Hydra's multi-line reports of bad overrides into one line.

    Hydra is told to let those exceptions through (HYDRA_FULL_ERROR); a user who set that
    variable still gets full tracebacks.
    """
    wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    TRACEBACKS["wanted"] = wants_traceback
    sys.argv[1:] = rewritten_arguments(sys.argv[1:])
    skip_hydras_mode_probe(sys.argv[1:], CONF_DIR)  # conf/hydra_shortcuts.py: what each saves, and why it is safe
    list_config_groups_only_when_shown()
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as error:
        full = disk_full_error(error)  # e.g. Hydra writing the job's .hydra/ files
        if full is not None:
            discard_claims()  # the job's folder, which Hydra could not write its .hydra/ files into
        message = None if wants_traceback else one_line_error(full or error) or composition_error(error)
        if message is None:
            raise
        exit_with_message(message)


def disk_full_error(error: BaseException) -> UserError | None:
    """A UserError naming the job's folder when `error` (or what caused it) is a write that found the disk
    full: there is nothing to fix in the command, only space to free."""
    try:
        folder = HydraConfig.get().runtime.output_dir
    except Exception:  # Hydra had not set up the job yet: the folder claimed for it, if any
        folder = claimed_job_folder()
    cause: BaseException | None = error
    while cause is not None:
        if folder is None and isinstance(cause, OSError) and cause.filename:
            folder = str(cause.filename)  # e.g. the job's folder Hydra could not create on the full disk
        if is_disk_full(cause, folder or os.getcwd()):
            folder = folder or os.getcwd()
            return UserError(f"the disk is full writing into {folder}: free some space there (or point "
                             "results_dir= at another disk) and run the command again; a training run continues "
                             "from its last checkpoint with run=<its folder>")
        cause = cause.__cause__ or cause.__context__
    return None


def composition_error(error: Exception) -> str | None:
    """The one line for an error Hydra raised composing the config from the command line's overrides.

    Hydra reports some malformed overrides (`=5`, a group given a number) with a bare ValueError from
    deep inside its defaults list, and two commands given together (`-m --cfg job`) with another;
    either is still the command line's fault, not a bug.
    """
    if isinstance(error, ValueError) and str(error).startswith("Only one of --run, --multirun, --cfg"):
        return f"{first_line(str(error))}: -m runs a sweep, --cfg only prints the config"
    composing = ("hydra/_internal/config_loader_impl.py", "hydra/_internal/defaults_list.py",
                 "hydra/core/default_element.py")
    files = [frame.f_code.co_filename.replace(os.sep, "/") for frame, _ in traceback.walk_tb(error.__traceback__)]
    if not any(file.endswith(composing) for file in files):
        return None
    keyless = [argument for argument in sys.argv[1:] if argument.startswith("=")]
    if keyless:
        return f"override {keyless[0]!r} has no key; write key=value, e.g. trainer.epochs=5"
    return f"cannot compose the config from the command line: {first_line(error)}"


if __name__ == "__main__":
    run_reporting_user_errors()
