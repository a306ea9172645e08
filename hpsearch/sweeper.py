"""The Optuna sweeper: a Hydra multirun that asks an Optuna study for trials and launches them as jobs.

    python main.py -m hpsearch=mlp                                   # the MLP's search, see conf/hpsearch/
    python main.py -m hpsearch=mlp hydra.sweeper.n_trials=100 hydra/sweeper/pruner=median
    python main.py -m hpsearch=mlp hydra.sweeper.n_jobs=2

With the default launcher it keeps `n_jobs` trials running, each in a process forked for it, and
starts the next as soon as one ends (another launcher gets `n_jobs` trials at a time); it tells the
study what each returned: a value (COMPLETE), a pruning (PRUNED: the job stopped early because
its pruner said so), or an error, NaN or inf (FAIL, with the message). The study is stored in
the sweep folder unless `storage` names a database, so running the same command again continues
it: finished trials count toward `n_trials` and trials left running by a dead sweep are marked
FAIL. Hydra only loads plugins from `hydra_plugins/`; creating the class there creates this one.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from conf.errors import ConfigError, UserError, first_line
from hpsearch.cluster_jobs import each_job_on_its_own, lost
from hpsearch.report import write_hparams, write_plots, write_report
from hpsearch.search_space import Parameter, as_override, finite_values, grid_values, legacy_parameter, parse_space
from hpsearch.study import journal_path, open_storage, remove_empty_study, storage_spec
from hpsearch.trial_process import launch_forked, preload, wait_for_any
from hpsearch.untried import UntriedFirst
from runs.study_name import default_study_name

log = logging.getLogger("hpsearch")

ABANDONED = "abandoned: its process died before the trial finished"  # recorded FAIL, run again
LOST_JOB_RETRIES = 2  # a cluster job that keeps ending without a result (its time limit, say) then fails its trial
SURPLUS = "surplus: n_trials were already taken by sweeps in other processes"


def counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial counts towards n_trials (and the failure rate): not one queued, abandoned or surplus."""
    return trial.state != TrialState.WAITING and trial.user_attrs.get("error") not in (ABANDONED, SURPLUS)
PRUNING_CALLBACK = "hpsearch.pruning.for_trial"  # what a trial's training runs to report and be pruned


def instantiate_sampler(config: DictConfig, space: dict[str, Parameter]) -> optuna.samplers.BaseSampler:
    """The configured sampler. The grid sampler gets its grid from the search space; GP needs
    PyTorch, which this project does not install. A seeded sampler draws each trial from a seed of
    its own (`TrialSeededSampler`)."""
    config = OmegaConf.create(OmegaConf.to_container(config))  # a copy: the `_deprecated_` notice is ours
    notice = config.pop("_deprecated_", None)
    if notice:
        log.warning("%s", notice)
    name = str(config.get("_target_", "")).rsplit(".", 1)[-1]
    if name == "GPSampler":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UserError("hydra/sweeper/sampler=gp needs PyTorch: pip install torch (CPU build), "
                            "or choose tpe, random, cmaes, qmc, grid or nsgaii") from None
    if config.get("seed") is not None and (not isinstance(config.seed, int) or isinstance(config.seed, bool)):
        raise ConfigError(f"hydra.sweeper.sampler.seed={config.seed!r} is invalid: an integer, or null")
    grid = {"search_space": {key: grid_values(p) for key, p in space.items()}} if name == "GridSampler" else {}
    seed = config.get("seed")
    if seed is None or name in ("GridSampler", "QMCSampler"):  # their sequence lives in the study, not the seed
        sampler = instantiate_quietly(config, **grid)
    else:
        sampler = TrialSeededSampler(lambda trial_seed: instantiate_quietly(config, seed=trial_seed), seed)
    if name not in REDRAWN:
        return sampler
    return UntriedFirst(sampler, {key: p.distribution for key, p in space.items()}, seed, counts)


# samplers whose repeats of a finite space's combinations are drawn again (hpsearch/untried.py): they propose
# at random or from the study alone. The grid and QMC samplers never repeat a point of their own; CMA-ES and
# GP keep an optimiser's state (or pay seconds) per proposal, which a second proposal for one trial would upset.
REDRAWN = ("TPESampler", "RandomSampler", "NSGAIISampler")


def instantiate_quietly(config: DictConfig, **arguments: Any) -> optuna.samplers.BaseSampler:
    """The sampler, without the warnings Optuna gives on building one (an argument it marks experimental:
    `constant_liar`, the preset's, or `multivariate`): a seeded sweep builds a sampler per trial, and an app
    run with `python -W error`, as the published plugin's tests run theirs, would stop on the first."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return instantiate_named("hydra.sweeper.sampler", config, **arguments)


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """A seeded sampler re-created for each trial with a seed of (seed, trial number).

    Trial numbers are unique in a study, so sweeps in several processes or on several machines
    never draw the same parameters, and a resumed sweep never draws its first trials' again; a
    sweep in one process stays reproducible. The sampler's history lives in the study, so nothing
    is lost by re-creating it.
    """

    def __init__(self, make: Any, seed: int) -> None:
        self.make, self.seed = make, seed
        self.inner = make(seed)

    def __str__(self) -> str:
        return type(self.inner).__name__

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.inner = self.make(trial_seed(self.seed, trial.number))
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


def check_space_values(config: DictConfig, space: dict[str, Parameter]) -> None:
    """Every value a trial of this project's main.py could get, checked against the schemas before the study
    exists: each value of a choice or range (the first 100), an interval's bounds (for a float interval's upper
    bound, the largest float below it also passes: dropout's range [0, 1) takes interval(0, 1)). A value the
    schema refuses is then one line, not a failed trial and a sweep folder left behind. Only in an app with this
    project's model and dataset groups: another app has no schema to check against."""
    if not {"model", "dataset"} <= set(config):
        return
    import copy

    from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

    from conf.schema import complete_dataset

    def refusal(key: str, value: Any) -> Exception | None:
        trial = copy.deepcopy(config)
        try:
            OmegaConf.update(trial, key, value, merge=False)  # the schema's type
            if key.startswith("dataset."):  # another library's dataset fills the keys left to it first (tfds, ...)
                complete_dataset(trial["dataset"])
            OmegaConf.to_object(trial[key.split(".", 1)[0]])  # the group schema's range checks (__post_init__)
        except InterpolationResolutionError:
            return None  # a value only the job resolves: its composition checks it
        except (UserError, OmegaConfBaseException, ValueError, TypeError) as error:
            return error
        return None

    for key, parameter in space.items():
        if "." not in key or key.startswith(("hydra.", "+", "~")) or isinstance(
                OmegaConf.select(config, key, default=None), DictConfig):
            continue  # a group's choice (model=cnn), a key added with +, Hydra's own: composing the trial checks it
        distribution = parameter.distribution
        values = finite_values(distribution)
        for value in (values[:100] if values is not None else [distribution.low, distribution.high]):
            value = parameter.value(value)
            error = refusal(key, value)
            if error is not None and values is None and isinstance(value, float) and value == distribution.high \
                    and refusal(key, math.nextafter(value, -math.inf)) is None:
                error = None  # an interval open at the top: no draw reaches its bound
            if isinstance(error, ConfigError) and not first_line(error).startswith(f"{key}="):
                error = None  # a rule between keys (width a multiple of heads): other searched values may pass
            if error is not None:
                shown = first_line(error) if isinstance(error, ConfigError) else \
                    f"{as_override(key, value)} is invalid: {first_line(error)}"
                raise ConfigError(f"{shown} (a value the sweep would search; nothing was started)")


def trial_seed(seed: int, number: int) -> int:
    """The seed of trial `number` of a sweep seeded with `seed`: NumPy's SeedSequence mixes the two, so the
    trials' random draws are independent of each other (tests/test_sweeper.py measures it)."""
    import numpy as np

    return int(np.random.SeedSequence([seed % 2**32, number]).generate_state(1)[0])


def connect(spec: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """The study's storage. Sweeps started together on several machines race to create a new database's
    tables, and all but one fail: those try again, by which time the tables exist."""
    for attempt in range(attempts):
        try:
            return optuna.storages.get_storage(open_storage(spec))
        except Exception as error:
            if journal_path(spec) is not None or attempt == attempts - 1 or lasting(error):
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def lasting(error: Exception) -> bool:
    """An error trying again will not cure: no driver, a malformed URL, an unknown database dialect
    (SQLAlchemy's ArgumentError, imported only once a database URL has brought SQLAlchemy in)."""
    if isinstance(error, (ImportError, ValueError)):
        return True
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.ArgumentError)


def sampler_name(sampler: optuna.samplers.BaseSampler) -> str:
    """The configured sampler's class name, under the wrappers of this module."""
    while hasattr(sampler, "inner"):
        sampler = sampler.inner
    return type(sampler).__name__


def instantiate_named(key: str, config: DictConfig, **arguments: Any) -> Any:
    """`instantiate`, with a bad argument reported in one line that names the config key."""
    try:
        return instantiate(config, **arguments)
    except Exception as error:
        cause = error.__cause__ or error  # Hydra wraps the constructor's own error
        raise ConfigError(f"{key} ({config.get('_target_')}) cannot be built: {first_line(cause)}") from None


def locate_function(path: str):
    """The function `module.function` names; a leading dot (`.my-objective.configure`, the published
    plugin's documented form) names a module beside the app, found on its path."""
    import importlib

    module, _, name = path.lstrip(".").rpartition(".")
    try:  # importlib, not Hydra's get_method, which logs its own multi-line report first
        function = getattr(importlib.import_module(module), name)
        if not callable(function):
            raise ValueError(f"{path} is not a function")
        return function
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"hydra.sweeper.custom_search_space={path!r} cannot be found: {first_line(error)}") from None


def finish(study: optuna.Study, trial: optuna.Trial, **outcome: Any) -> optuna.trial.FrozenTrial:
    """`study.tell`, except that the grid sampler's `study.stop()` once the grid is used up (which
    Optuna only allows inside `optimize`) ends the sweep normally: the trial is stored by then."""
    try:
        return study.tell(trial, **outcome)
    except RuntimeError as error:
        if not isinstance(study.sampler, optuna.samplers.GridSampler) or "Study.stop" not in str(error):
            raise
        return study._storage.get_trial(trial._trial_id)


def trials_metrics(config: DictConfig) -> list[str] | None:
    """The names of `optimized_metric` in this project's app, as its trials will report them; None in an app
    without one. A dataset of another library (tfds, huggingface) leaves its task to its own description,
    which a trial's composition reads: here it is read the same way, into a copy."""
    import copy

    from conf.schema import complete_dataset, optimized_metrics

    if "optimized_metric" not in config or "dataset" not in config or "task" not in config.dataset:
        return None
    dataset = config.dataset
    if dataset.task is None:
        dataset = copy.deepcopy(dataset)
        complete_dataset(dataset)
    return optimized_metrics(config.optimized_metric, dataset.task, dataset.get("targets"))


def infer_directions(config: DictConfig, metrics: list[str] | None) -> tuple[list[str], str, str | None]:
    """The directions when `hydra.sweeper.direction` is not set: from the metric names of this
    project's `optimized_metric` (as the model declares its own metrics; else a loss or an error is
    minimised, anything else maximised); for an app without one, minimize, the published
    hydra-optuna-sweeper's default."""
    from conf.schema import minimized, model_metrics

    if metrics is None:
        return ["minimize"], "the default of an app without optimized_metric, as in the published plugin", None
    directions = ["minimize" if minimized(metric, model_metrics(config)) else "maximize" for metric in metrics]
    warning = None
    if "maximize" in directions:
        maximized = ", ".join(m for m, d in zip(metrics, directions, strict=True) if d == "maximize")
        warning = (f"hydra.sweeper.direction is not set: maximizing {maximized} as its name says (the published "
                   "hydra-optuna-sweeper would have minimised it)")
    return directions, f"inferred from optimized_metric {', '.join(metrics)}", warning


def process_alive(owner: str) -> bool:
    """Whether the sweep process `host:pid` is still running; other hosts' processes are assumed alive."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


class OptunaSweeper(Sweeper):
    """Run `n_trials` trials of an Optuna study, `n_jobs` at a time, as Hydra jobs.

    Args:
        sampler, pruner: configs with `_target_` (groups `hydra/sweeper/sampler`, `.../pruner`).
        direction: "maximize", "minimize", or a list of them for several objectives.
        storage: a database URL; None keeps a journal file in the sweep folder.
        study_name: the study's name, also the sweep folder's name in main.py; None: `<model>_<dataset>` in
            an app with those config groups, else the app's name (`runs.study_name`).
        n_trials: trials the study should have finished, counting those of earlier runs.
        n_jobs: trials launched at a time (give the launcher as many workers).
        max_failure_rate: the sweep stops once more than this fraction of finished trials failed.
        timeout: seconds after which no new trials are started.
        params: `{key: expression}` in Hydra's sweep grammar; when empty, and no sweep is given on
            the command line, the model's own `search_space` is searched.
        custom_search_space: `module.function(cfg, trial)` that suggests more parameters.
        plots: write the optimisation history and parameter importances (HTML and PNG) at the end;
            they cost seconds (matplotlib, scikit-learn's forests for fANOVA), nothing else reads them.
        threads_per_trial: CPU threads each trial's TensorFlow may use (`trainer.threads`) when `n_jobs`
            trials run on this machine at once; "auto" shares the cores out evenly, None leaves every
            trial TensorFlow's default (a thread per core each).
    """

    def __init__(self, sampler: Any, pruner: Any, direction: Any = None, storage: str | None = None,
                 study_name: str | None = None, n_trials: int = 20, n_jobs: int = 1,
                 max_failure_rate: float = 0.0, timeout: float | None = None, params: Any = None,
                 custom_search_space: str | None = None, search_space: Any = None,
                 threads_per_trial: int | str | None = "auto", plots: bool = True) -> None:
        self.sampler_config, self.pruner_config = sampler, pruner
        self.directions = None if direction is None else [direction] if isinstance(direction, str) else list(direction)
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.max_failure_rate, self.timeout = max_failure_rate, timeout
        self.params = OmegaConf.to_container(params) if OmegaConf.is_config(params) else dict(params or {})
        self.custom_search_space = custom_search_space
        self.threads_per_trial, self.plots = threads_per_trial, plots
        self.checked_keys: set[tuple[str, ...]] = set()  # override keys whose job config has been composed here
        # what the sweep tells the user, once its settings have all been checked (a refused sweep prints one line)
        self.notices: list[tuple[int, str]] = []
        self.metrics: list[str] | None = None  # optimized_metric's names, as setup reads them from the app's config
        self.legacy_space = {}
        if search_space:  # the published plugin's older key, {key: {type, low, high, ...}}
            log.warning("hydra.sweeper.search_space is the published plugin's old key; write the same space as "
                        "hydra.sweeper.params in Hydra's sweep grammar (e.g. x: interval(0, 1))")
            self.legacy_space = {key: legacy_parameter(key, spec) for key, spec in search_space.items()}
        for direction in self.directions or []:
            if direction not in ("maximize", "minimize"):
                raise ConfigError(f"hydra.sweeper.direction={direction!r} is invalid: maximize or minimize")
        for key, value in (("n_trials", n_trials), ("n_jobs", n_jobs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"hydra.sweeper.{key}={value!r} is invalid: an integer >= 1")
        if not isinstance(max_failure_rate, (int, float)) or not 0 <= max_failure_rate <= 1:
            raise ConfigError(f"hydra.sweeper.max_failure_rate={max_failure_rate!r} is invalid: must be in [0, 1]")
        if not isinstance(plots, bool):
            raise ConfigError(f"hydra.sweeper.plots={plots!r} is invalid: true or false")
        if threads_per_trial not in (None, "auto") and (
                not isinstance(threads_per_trial, int) or isinstance(threads_per_trial, bool) or threads_per_trial < 1):
            raise ConfigError(f"hydra.sweeper.threads_per_trial={threads_per_trial!r} is invalid: auto, an integer "
                              ">= 1, or null for TensorFlow's default")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(f"hydra.sweeper.timeout={timeout!r} is invalid: seconds > 0, or null for none")

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config, self.task_function = hydra_context, config, task_function
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = Path(config.hydra.sweep.dir)
        if self.study_name is None:
            self.study_name = default_study_name(config.hydra.runtime.choices, config.hydra.job.name)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.direction_source = "hydra.sweeper.direction"
        self.metrics = trials_metrics(config)
        if self.directions is None:
            self.directions, self.direction_source, warning = infer_directions(config, self.metrics)
            if warning:
                self.notices.append((logging.WARNING, warning))
        self.notices.append((logging.INFO, f"optimising {', '.join(self.directions)} ({self.direction_source})"))

    def search_space(self, arguments: list[str]) -> tuple[dict[str, Parameter], list[str]]:
        """Parameters to search (config params, then sweeps on the command line) and fixed overrides;
        a key the command line fixes to one value is not searched."""
        space = dict(self.params)
        fixed = []
        for override in OverridesParser.create().parse_overrides(arguments):
            if override.is_sweep_override():
                space[override.get_key_element()] = override.input_line.split("=", 1)[1]
            else:  # a key fixed on the command line is not searched
                space.pop(override.get_key_element(), None)
                fixed.append(override.input_line)
        if not space and not self.legacy_space and not self.custom_search_space:
            target = OmegaConf.select(self.config, "model._target_", default=None)
            if target is None:  # an app of its own with nothing to search: every trial runs its config, as published
                self.notices.append((logging.INFO, "nothing to search: every trial runs the same config"))
            else:
                from models import registered_class

                space = dict(registered_class(target).search_space)
                self.notices.append((logging.INFO, f"no params given: searching the model's own search_space {space}"))
        space = {**{k: v for k, v in self.legacy_space.items() if k not in space}, **parse_space(space)}
        return space, [*fixed, *self.shared_threads(space, fixed)]

    def shared_threads(self, space: dict[str, Parameter], fixed: list[str]) -> list[str]:
        """`trainer.threads=<share>` for every trial when `n_jobs` trials run on this machine at once
        (the default launcher, or joblib's): without it each trial's TensorFlow starts a thread per core,
        and N trials fight over the cores instead of each using its share (BENCHMARKS.md, "Sweeps").
        Only for an app that declares `trainer.threads`, and not when the user set or searches it."""
        if self.n_jobs == 1 or self.threads_per_trial is None:
            return []
        on_this_machine = type(self.launcher).__name__ in ("BasicLauncher", "JoblibLauncher")
        trainer = self.config.get("trainer")
        user_set = "trainer.threads" in {*space, *(o.split("=", 1)[0].lstrip("+~") for o in fixed)}
        declared = isinstance(trainer, DictConfig) and "threads" in trainer and trainer.threads is None
        if not on_this_machine or not declared or user_set:
            return []
        cores = len(os.sched_getaffinity(0))
        threads = max(1, cores // self.n_jobs) if self.threads_per_trial == "auto" else self.threads_per_trial
        self.notices.append((logging.INFO, f"{self.n_jobs} trials at a time on {cores} cores: each runs with "
                             f"trainer.threads={threads} (hydra.sweeper.threads_per_trial={self.threads_per_trial})"))
        return [f"trainer.threads={threads}"]

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        if self.custom_search_space:
            locate_function(self.custom_search_space)  # fail before any trial
        space, fixed = self.search_space(arguments)
        check_space_values(self.config, space)
        spec = storage_spec(self.storage, self.sweep_dir)
        journal = journal_path(spec)
        new_journal = journal is not None and not journal.exists()
        new_folders = [folder for folder in (self.sweep_dir, *self.sweep_dir.parents) if not folder.exists()]
        try:
            study = self.open_study(spec, space)
        except BaseException:
            if new_journal:  # a sweep refused before its first trial leaves no study behind
                remove_empty_study(journal, new_folders)
            raise
        for level, notice in self.notices:
            log.log(level, "%s", notice)
        try:
            return self.run_trials(study, space, fixed, spec)
        finally:  # also when the failure rate stops the sweep
            write_report(study, self.sweep_dir, space)
            if self.plots:
                write_plots(study, self.sweep_dir)

    def open_study(self, spec: str, space: dict[str, Parameter]) -> optuna.Study:
        """The sweep's study, created or continued, with abandoned trials of dead sweeps marked FAIL."""
        try:
            storage = connect(spec)
        except Exception as error:  # an unknown scheme, a database that refuses, a journal that is not one
            raise ConfigError(f"hydra.sweeper.storage={spec!r} cannot be opened: {first_line(error)}; give a "
                              "database URL (sqlite:///study.db, postgresql://user@host/db) or leave it unset "
                              "for a journal file in the sweep folder") from None
        sampler = instantiate_sampler(self.sampler_config, space)
        study = optuna.create_study(
            study_name=self.study_name, storage=storage, sampler=sampler,
            pruner=instantiate_named("hydra.sweeper.pruner", self.pruner_config), directions=self.directions, load_if_exists=True)
        study.set_user_attr("direction_source", self.direction_source)
        self.fail_abandoned_trials(study, storage)
        return study

    def run_trials(self, study: optuna.Study, space: dict[str, Parameter], fixed: list[str], spec: str
                   ) -> list[JobReturn]:
        log.info("study %s in %s (%s, %s): %d of %d trials already finished", study.study_name, spec,
                 sampler_name(study.sampler), type(study.pruner).__name__, self.finished(study), self.n_trials)
        if self.n_jobs > 1 and type(self.launcher).__name__ == "BasicLauncher":
            return self.run_trials_steadily(study, space, fixed, spec)
        started, returns = time.monotonic(), []
        while self.room_for_more(study, started, 0):
            trials = [trial for trial in (self.ask(study, space) for _ in range(min(self.n_jobs, self.room(study))))
                      if trial is not None]
            if not trials:
                continue
            batch = [self.job_overrides(trial, space, fixed, study.study_name, spec) for trial in trials]
            self.validate_keys_once(batch)
            with each_job_on_its_own():
                results = self.launcher.launch(batch, initial_job_idx=trials[0].number)
            for trial, result in zip(trials, results, strict=True):
                if isinstance(result, BaseException):  # a cluster job that ended without a result
                    self.job_without_result(study, trial, result, space)
                    continue
                self.tell(study, trial, result, space)
                returns.append(result)
            write_report(study, self.sweep_dir, space)
        return returns

    def run_trials_steadily(self, study: optuna.Study, space: dict[str, Parameter], fixed: list[str], spec: str
                            ) -> list[JobReturn]:
        """`n_jobs` trials at a time, each in a process forked for it, the next one started as soon as any
        finishes or is pruned: no trial waits for the slowest of a batch. The processes die with the sweep
        (`trial_process.launch_forked`), and one that dies without a result is re-run."""
        preload(self.task_function)
        started, returns, running = time.monotonic(), [], {}
        try:
            while True:
                while len(running) < self.n_jobs and self.room_for_more(study, started, len(running)):
                    trial = self.ask(study, space)
                    if trial is None:
                        continue
                    overrides = self.job_overrides(trial, space, fixed, study.study_name, spec)
                    self.validate_keys_once([overrides])
                    running[launch_forked(self.launcher, overrides, trial.number, self.sweep_dir)] = trial
                if not running:
                    break
                process, result = wait_for_any(list(running))
                trial = running.pop(process)
                if result is None:  # the process died without a result (killed, out of memory)
                    self.abandon(study, trial.number, f"its process exited with status {process.status}")
                else:
                    self.tell(study, trial, result, space)
                    returns.append(result)
                write_report(study, self.sweep_dir, space)
        finally:
            for process in running:  # the sweep stops (an error, Ctrl-C): its trials stop with it
                process.kill()
        return returns

    def job_without_result(self, study: optuna.Study, trial: optuna.Trial, error: BaseException,
                           space: dict[str, Parameter]) -> None:
        """A cancelled, timed-out or lost job: its trial is abandoned and run again; a job that ran and
        failed outside the app (it could not import it, say) is a failed trial."""
        tries = 1 + self.retries(study, trial.number)
        if lost(error) and tries <= LOST_JOB_RETRIES:
            self.abandon(study, trial.number, f"its job ended without a result: {first_line(error)}")
            return
        again = f" (its parameters' job ended so {tries} times)" if lost(error) else ""
        trial.set_user_attr("error", f"{type(error).__name__}: {first_line(error)}{again}")
        self.report_trial(study, finish(study, trial, state=TrialState.FAIL), space)

    @staticmethod
    def retries(study: optuna.Study, number: int) -> int:
        """How many times trial `number`'s parameters were run again after a lost job (its `retry_of` chain)."""
        by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
        count, trial = 0, by_number.get(number)
        while trial is not None and "retry_of" in trial.user_attrs:
            count, trial = count + 1, by_number.get(trial.user_attrs["retry_of"])
        return count

    def validate_keys_once(self, batch: list[list[str]]) -> None:
        """Compose a job's config in the sweep process, as Hydra's sweepers do before every batch, so
        that a wrong key stops the sweep at once with one line; but only for overrides whose keys have
        not been composed before: the launcher composes every job again anyway, and a second
        composition per trial costs about 0.3 s of CPU (one composition, benchmarks/mode_probe.py).
        A later value that does not compose fails its trial where the sweep forks a process per trial
        (the default launcher, `n_jobs` > 1), and stops the sweep, as before, one trial at a time or
        with another launcher."""
        for overrides in batch:
            keys = tuple(sorted(override.split("=", 1)[0] for override in overrides))
            if keys not in self.checked_keys:
                self.validate_batch_is_legal([overrides])
                self.checked_keys.add(keys)

    def room(self, study: optuna.Study) -> int:
        """Trials still to start: n_trials less those that count (running or finished, not abandoned or surplus)."""
        return self.n_trials - sum(counts(t) for t in study.get_trials(deepcopy=False))

    def room_for_more(self, study: optuna.Study, started: float, running: int) -> bool:
        self.check_failure_rate(study)
        if self.room(study) <= 0:
            return False
        if self.timeout is not None and time.monotonic() - started > self.timeout:
            if not running:
                log.info("timeout of %ss reached: no new trials", self.timeout)
            return False
        if isinstance(study.sampler, optuna.samplers.GridSampler) and study.sampler.is_exhausted(study):
            if not running:
                log.info("the grid is exhausted: every combination has been tried")
            return False
        return True

    def ask(self, study: optuna.Study, space: dict[str, Parameter]) -> optuna.Trial | None:
        """A new trial (a re-run of an abandoned one first), or None when sweeps on other processes took
        the last of `n_trials` at the same moment: then it is recorded as surplus and never run."""
        trial = study.ask({key: p.distribution for key, p in space.items()})
        counted = sorted(t.number for t in study.get_trials(deepcopy=False) if counts(t))
        if trial.number in counted[self.n_trials:]:
            trial.set_user_attr("error", SURPLUS)
            finish(study, trial, state=TrialState.FAIL)
            return None
        return trial

    def job_overrides(self, trial: optuna.Trial, space: dict[str, Parameter], fixed: list[str], study_name: str,
                      spec: str) -> list[str]:
        trial.set_user_attr("sweeper", self.owner)
        trial.set_user_attr("folder", str(self.sweep_dir / str(trial.number)))
        if self.custom_search_space:
            locate_function(self.custom_search_space)(self.config, trial)
        params = [as_override(key, space[key].value(value) if key in space else value)
                  for key, value in trial.params.items()]
        # an app that declares `trial` (this project's main.py) learns which trial it is, and gets the
        # pruning callback; any other app (one written for the published plugin) gets only its params
        declared = self.config.get("trial") or {}
        reach = {"number": trial.number, "study_name": study_name, "storage": spec, "callback": PRUNING_CALLBACK}
        return [*fixed, *params, *(as_override(f"trial.{key}", value) for key, value in reach.items() if key in declared),
                f"hydra.sweep.subdir={trial.number}"]

    def tell(self, study: optuna.Study, trial: optuna.Trial, result: JobReturn, space: dict[str, Parameter]) -> None:
        value = result._return_value  # JobReturn.return_value would print failures to stderr
        if result.status == JobStatus.COMPLETED:
            values = value if isinstance(value, (list, tuple)) else [value]
            if value is not None and len(values) == len(self.directions) and all(
                    isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                frozen = finish(study, trial, values=values)
            else:
                trial.set_user_attr("error", f"the job returned {value!r}, not {len(self.directions)} finite number(s)")
                frozen = finish(study, trial, state=TrialState.FAIL)
        elif isinstance(value, optuna.TrialPruned):
            frozen = finish(study, trial, state=TrialState.PRUNED)
        else:
            trial.set_user_attr("error", f"{type(value).__name__}: {first_line(str(value))}")
            frozen = finish(study, trial, state=TrialState.FAIL)
        self.report_trial(study, frozen, space)

    def report_trial(self, study: optuna.Study, frozen: optuna.trial.FrozenTrial, space: dict[str, Parameter]) -> None:
        """A finished trial's log line and TensorBoard HParams record."""
        self.log_progress(study, frozen)
        write_hparams(frozen, space, self.sweep_dir / str(frozen.number), study.study_name, self.metric_names())

    def metric_names(self) -> list[str]:
        """What the trials' values are: `optimized_metric`'s names in this project, `objective` elsewhere."""
        return self.metrics or []

    def log_progress(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        shown = (f"value={trial.values[0]:.6g}" if trial.values and len(trial.values) == 1
                 else f"values={trial.values}" if trial.values else trial.user_attrs.get("error", ""))
        best = ""
        if len(study.directions) == 1 and any(t.state == TrialState.COMPLETE for t in study.trials):
            best = f" | best {study.best_value:.6g} (trial {study.best_trial.number})"
        log.info("trial %d (%d/%d finished) %s %s%s", trial.number, self.finished(study), self.n_trials,
                 trial.state.name, shown, best)

    @staticmethod
    def finished(study: optuna.Study) -> int:
        """Finished trials that count towards n_trials (not those abandoned by a dead sweep, nor surplus)."""
        return sum(t.state.is_finished() and counts(t) for t in study.trials)

    def fail_abandoned_trials(self, study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
        """Trials left RUNNING by a sweep process that no longer exists: marked FAIL and run again."""
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = trial.user_attrs.get("sweeper", "")
            if owner and owner != self.owner and not process_alive(owner):
                self.abandon(study, trial.number, f"its sweep process ({owner}) died")

    def abandon(self, study: optuna.Study, number: int, why: str) -> None:
        """Record a trial that never got to finish as FAIL (ABANDONED: it does not count towards n_trials
        nor the failure rate) and enqueue the same parameters again, so a crash costs no budget."""
        storage = study._storage
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
        frozen = storage.get_trial(trial_id)
        storage.set_trial_user_attr(trial_id, "error", ABANDONED)
        if not frozen.state.is_finished():
            study.tell(number, state=TrialState.FAIL)
        study.enqueue_trial(frozen.params, user_attrs={"retry_of": number}, skip_if_exists=False)
        log.info("trial %d was abandoned (%s): marked FAIL, its parameters queued to run again", number, why)

    def check_failure_rate(self, study: optuna.Study) -> None:
        """Stop the sweep when too many trials failed; trials of a dead sweep process do not count."""
        finished = [t for t in study.trials if t.state.is_finished() and counts(t)]
        failed = [t for t in finished if t.state == TrialState.FAIL]
        if finished and len(failed) / len(finished) > self.max_failure_rate:
            last = failed[-1].user_attrs.get("error", "no message")
            raise UserError(f"sweep stopped: {len(failed)} of {len(finished)} finished trials failed, more than "
                            f"hydra.sweeper.max_failure_rate={self.max_failure_rate}; trial {failed[-1].number}: {last}")
