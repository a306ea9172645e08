"""The resolvers the config uses, to name a job's output folder above all; `main.py` registers them.

    hydra.run.dir: ${unique_dir:${stage_output_dir:...}}

A fresh training run gets `results/<model>/<dataset>/<time>`; a stage that acts on an earlier run
(`run=...`) writes into that run's folder, `<run>/<stage>/<time>`, so its results sit next to what
they came from and never overwrite anything; a branch (`run=... checkpoint=...` with stage=train)
is a new run of the parent's model and dataset.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from conf import PROJECT_ROOT
from conf.errors import UserError, exit_with_message
from runs.folder import find_run, run_choices
from runs.study_name import default_study_name
from runs.untrusted import NAME, contained

# What resuming in place writes into the run folder itself.
RESUMED_FILES = (".hydra", "checkpoints", "history.csv", "train", "validation", "metrics.json", "run.json",
                 "model_summary.txt", "preprocessing.json")

def unique_dir(path: str) -> str:
    """`path`, or `path_1`, `path_2`, ...: the first that does not exist yet, created at once.

    Creating it claims it, so two runs started in the same second never share a folder. The
    resolver is registered with a cache, so a config resolves (and creates) it once; but OmegaConf
    also resolves interpolations while Hydra merges config files (a preset's `hydra.sweep.dir`
    over the default one, before the command line's `results_dir` applies), so every folder it
    claims is remembered and removed at exit if nothing was written into it.
    """
    candidate, suffix = path, 0
    while True:
        missing = [folder for folder in (Path(candidate), *Path(candidate).parents) if not folder.exists()]
        try:
            os.makedirs(candidate)
        except FileExistsError:
            suffix += 1
            candidate = f"{path}_{suffix}"
            continue
        except OSError as error:  # a file where a folder should be, no permission, a full disk
            raise UserError(f"cannot create the job folder {candidate}: {error.strerror or error}") from None
        if not _CLAIMED:
            atexit.register(release_unused_claims)
        _CLAIMED.extend(missing)
        return candidate


_CLAIMED: list[Path] = []


def claimed_job_folder() -> str | None:
    """The job folder `unique_dir` created last for this command, if any (the deepest it claimed)."""
    return str(max(_CLAIMED, key=lambda folder: len(folder.parts))) if _CLAIMED else None


def discard_claims() -> None:
    """Remove the folders `unique_dir` created, with what is in them, unless they hold training progress:
    for a job that failed before it started (Hydra could not write its `.hydra/` files)."""
    for folder in sorted(_CLAIMED, key=lambda folder: len(folder.parts), reverse=True):
        if folder.is_dir() and not folder.is_symlink() and not any(folder.rglob("checkpoints/state.json")):
            shutil.rmtree(folder, ignore_errors=True)
    release_unused_claims()


def release_unused_claims() -> None:
    """Remove the folders `unique_dir` created that are still empty (claimed while merging, never used)."""
    for folder in sorted(_CLAIMED, key=lambda folder: len(folder.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or gone
            folder.rmdir()
    _CLAIMED.clear()


def stage_output_dir(stage: str, run: str | None, checkpoint: str | None, results_dir: str, model: str,
                     dataset: str, now: str) -> str:
    """Where a job of `stage` writes (see the module docstring)."""
    if Path(results_dir).exists() and not Path(results_dir).is_dir():
        raise UserError(f"results_dir={results_dir} is a file, not a folder: give a folder for run results")
    if not results_dir.strip():
        raise UserError("results_dir='' is invalid: must name a folder (an empty path would write into the "
                        "current folder)")
    if run is None:
        if stage != "train":
            raise UserError(f"stage={stage} acts on a trained run: add run=<run folder> or run=latest")
        return str(Path(results_dir) / model / dataset / now)
    run_dir = find_run(run, results_dir, model, dataset)
    if stage == "train" and checkpoint is not None:
        parent_model, parent_dataset = run_choices(run_dir)
        return str(Path(results_dir) / parent_model / parent_dataset / now)
    folder = "resume" if stage == "train" else stage
    if stage != "train" and not os.access(run_dir, os.W_OK):  # a colleague's run on a read-only mount
        parent_model, parent_dataset = run_choices(run_dir)
        return str(Path(results_dir) / READ_ONLY_RUNS / parent_model / parent_dataset / run_dir.name / stage / now)
    # a job writes into the run: nothing it writes to may lead out of it
    contained(run_dir, folder, *(RESUMED_FILES if stage == "train" else ()))
    return str(run_dir / folder / now)


READ_ONLY_RUNS = "read_only_runs"  # <results_dir>/read_only_runs/<model>/<dataset>/<run>/<stage>/<time>: jobs on them


class OutputDirGuard(Callback):
    """Refuse a job folder given by hand (`hydra.run.dir=...`) that is empty or already holds files.

    Hydra writes `.hydra/` into the job folder before the job starts, so the check has to come
    first: a finished or interrupted run is continued with `run=<folder>`, never by training into
    its folder again. The default folders are fresh by construction (`unique_dir`).
    """

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, "run")

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config, "sweep")

    @staticmethod
    def _check(config: DictConfig, mode: str) -> None:
        try:
            check_given_dir(config, mode)
        except UserError as error:  # Hydra turns a callback's exceptions into warnings; exiting is not one
            exit_with_message(str(error))


def check_given_dir(config: DictConfig, mode: str) -> None:
    raw = OmegaConf.to_container(config.hydra[mode], resolve=False)["dir"]
    if isinstance(raw, str) and ("${unique_dir:" in raw or "${sweep_dir:" in raw):
        return
    value = str(config.hydra[mode].dir).strip()
    if not value:
        raise UserError(f"hydra.{mode}.dir='' is invalid: leave it unset, or name a new folder")
    if mode == "run" and os.path.isdir(value) and os.listdir(value):
        raise UserError(f"hydra.run.dir={value} already holds files; a new run needs a new folder, and a "
                        f"finished or interrupted run is continued with run={value}")


def sweep_dir(results_dir: str, study_name: str | None, now: str, sweeper: str | None = None,
              model: str | None = None, dataset: str | None = None) -> str:
    """A multirun's folder: `results/sweeps/<study>` for an Optuna sweep (the same folder, and study, every
    time the sweep runs again, preset or not; `<model>_<dataset>` when the study has no name), else a new
    `results/multirun/<time>`."""
    if study_name is None and sweeper == "optuna":
        study_name = default_study_name({"model": model, "dataset": dataset}, None)
    if study_name is None:
        return unique_dir(str(Path(results_dir) / "multirun" / now))
    if not NAME.match(str(study_name)):
        raise UserError(f"hydra.sweeper.study_name={study_name!r} is invalid: it names the sweep's folder, so "
                        "letters, digits, '_', '-' and '.' only")
    return str(Path(results_dir) / "sweeps" / str(study_name))


def project_dir(name: str) -> str:
    """`<project root>/<name>` as an absolute path: the default data and results folders do not depend on
    the folder a command is started from (`cd elsewhere && python /path/to/main.py`, `hydra.job.chdir`)."""
    return str(PROJECT_ROOT / name)


def config_options(group: str) -> str:
    """The options of a config group, from its folder in `conf/` (for `--help`, conf/hydra/help/project.yaml)."""
    from conf import CONF_DIR

    return ", ".join(sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml")))


def register_resolvers() -> None:
    for name, function in (("unique_dir", unique_dir), ("stage_output_dir", stage_output_dir),
                           ("sweep_dir", sweep_dir), ("project_dir", project_dir), ("config_options", config_options)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function, use_cache=True)
