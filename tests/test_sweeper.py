"""The Optuna sweeper on a cheap objective (tests/sweep_app, no TensorFlow in the jobs)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, run_script

APP = Path(__file__).resolve().parent / "sweep_app" / "app.py"


def sweep(sweep_dir: Path, *args: str, background: bool = False, fresh: bool = False):
    """`python tests/sweep_app/app.py -m args`, forked from the test server (tests/conftest.run_script);
    a fresh interpreter instead in the `background` (a session of its own, which the test can signal)
    or when `fresh`: joblib's and submitit's workers load the app's function by importing its file,
    which the server's forked `__main__` cannot give them."""
    env = {**os.environ, "PROJECT_CONF": str(PROJECT_ROOT / "conf"), "SWEEP_DIR": str(sweep_dir)}
    env.pop("HYDRA_FULL_ERROR", None)
    if not (background or fresh):
        return run_script(sweep_dir.parent, APP, "-m", *args, env=env)
    command = [sys.executable, str(APP), "-m", *args]
    if background:
        return subprocess.Popen(command, cwd=sweep_dir.parent, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    return subprocess.run(command, cwd=sweep_dir.parent, env=env, capture_output=True, text=True, timeout=240)


def trials(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def results(sweep_dir: Path) -> dict:
    return yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())


def test_a_sweep_finds_the_minimum_and_leaves_its_records(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = sweep(sweep_dir, "hydra.sweeper.n_trials=12", "hydra.sweeper.plots=true")
    assert result.returncode == 0, result.stderr
    rows = trials(sweep_dir)
    assert [int(r["number"]) for r in rows] == list(range(12))
    assert {r["state"] for r in rows} == {"COMPLETE"}
    assert all(r["k"] in {"0", "1", "2"} for r in rows)  # range(0, 3): 3 excluded
    best = results(sweep_dir)
    assert best["best_value"] == min(float(r["value"]) for r in rows) < 1.5
    assert set(best["best_params"]) == {"x", "k"} and best["trials"] == {"COMPLETE": 12}
    for row in rows:  # one job folder per trial, named by its number, told its trial
        overrides = yaml.safe_load((sweep_dir / row["number"] / ".hydra" / "overrides.yaml").read_text())
        assert f"trial.number={row['number']}" in overrides
    assert (sweep_dir / "study.journal").is_file()
    assert (sweep_dir / "optimization_history.html").is_file() and (sweep_dir / "param_importances.html").is_file()
    from PIL import Image

    for picture in ("optimization_history.png", "param_importances.png"):  # beside the HTML ones
        with Image.open(sweep_dir / picture) as image:
            image.verify()
            assert image.format == "PNG"
    assert list((sweep_dir / "0" / "hparams").glob("events.out.tfevents.*"))
    assert "trial 11 (12/12 finished) COMPLETE value=" in result.stdout  # the app logs to stdout


@pytest.mark.parametrize("sampler", ["random", "qmc", "cmaes", "grid"])
def test_each_sampler_runs(tmp_path, sampler):
    args = ["x=choice(0.0,1.0,2.0)"] if sampler == "grid" else []  # a sweep on the command line joins params
    result = sweep(tmp_path / "sweep", f"hydra/sweeper/sampler={sampler}", "hydra.sweeper.n_trials=3", *args)
    assert result.returncode == 0, result.stderr
    assert [r["state"] for r in trials(tmp_path / "sweep")] == ["COMPLETE"] * 3


def test_a_storage_is_tried_again_only_when_trying_again_can_help():
    """Sweeps started together race to create a database's tables: a refused connection or a failed
    creation is tried again; no driver, a malformed URL or an unknown dialect fails at once."""
    import sqlalchemy.exc

    from hpsearch.sweeper import lasting

    assert lasting(ImportError("no module named psycopg")) and lasting(ValueError("bad URL"))
    assert lasting(sqlalchemy.exc.NoSuchModuleError("Can't load plugin: sqlalchemy.dialects:foo"))
    assert not lasting(sqlalchemy.exc.OperationalError("CREATE TABLE", {}, Exception("refused")))
    assert not lasting(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))


def test_gp_without_pytorch_is_a_clear_error(tmp_path):
    pytest.importorskip("sys")
    try:
        import torch  # noqa: F401
        pytest.skip("PyTorch is installed here")
    except ImportError:
        pass
    result = sweep(tmp_path / "sweep", "hydra/sweeper/sampler=gp", "hydra.sweeper.n_trials=2")
    assert result.returncode != 0
    assert "hydra/sweeper/sampler=gp needs PyTorch" in result.stderr


def test_multi_objective_gives_a_pareto_front(tmp_path):
    result = sweep(tmp_path / "sweep", "objectives=2", "hydra/sweeper/sampler=nsgaii",
                   "hydra.sweeper.direction=[minimize,minimize]", "hydra.sweeper.n_trials=6")
    assert result.returncode == 0, result.stderr
    front = results(tmp_path / "sweep")["solutions"]
    assert front and all(len(point["values"]) == 2 for point in front)
    assert {"value_0", "value_1"} <= set(trials(tmp_path / "sweep")[0])


def test_failures_are_recorded_and_the_sweep_goes_on_up_to_the_failure_rate(tmp_path):
    result = sweep(tmp_path / "sweep", "fail_above=2.0", "nan_above=1.0", "hydra.sweeper.n_trials=10",
                   "hydra.sweeper.max_failure_rate=1.0", "hydra/sweeper/sampler=random")
    assert result.returncode == 0, result.stderr
    rows = trials(tmp_path / "sweep")
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert len(rows) == 10 and failed and any(r["state"] == "COMPLETE" for r in rows)
    assert not list((tmp_path / "sweep").glob("*.png")) and not list((tmp_path / "sweep").glob("*.html"))  # plots=false
    for row in failed:
        x = float(yaml.safe_load((tmp_path / "sweep" / row["number"] / ".hydra" / "config.yaml").read_text())["x"])
        expected = "RuntimeError: x=" if x > 2.0 else "the job returned nan"
        assert row["error"].startswith(expected)


def test_too_many_failures_stop_the_sweep_with_one_line(tmp_path):
    result = sweep(tmp_path / "sweep", "fail_above=-10.0", "hydra.sweeper.n_trials=10",
                   "hydra.sweeper.max_failure_rate=0.5")
    assert result.returncode != 0
    assert "sweep stopped: 1 of 1 finished trials failed, more than hydra.sweeper.max_failure_rate=0.5" in result.stderr
    assert len(trials(tmp_path / "sweep")) == 1


def test_running_the_same_sweep_again_continues_the_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"  # a database storage, through SQLAlchemy 2
    first = sweep(tmp_path / "sweep", "hydra.sweeper.n_trials=4", f"hydra.sweeper.storage='{storage}'")
    assert first.returncode == 0, first.stderr
    again = sweep(tmp_path / "sweep", "hydra.sweeper.n_trials=7", f"hydra.sweeper.storage='{storage}'")
    assert again.returncode == 0, again.stderr
    rows = trials(tmp_path / "sweep")
    assert [int(r["number"]) for r in rows] == list(range(7)) and {r["state"] for r in rows} == {"COMPLETE"}
    assert len({(r["x"], r["k"]) for r in rows}) == 7  # no trial repeated
    assert sorted(int(p.name) for p in (tmp_path / "sweep").iterdir() if p.name.isdigit()) == list(range(7))
    assert "4 of 7 trials already finished" in again.stdout


def test_a_sweep_killed_three_times_still_ends_with_exactly_n_trials(tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = ["sleep=0.6", "hydra.sweeper.n_trials=5"]  # max_failure_rate 0: an abandoned trial does not count
    for kill in range(3):
        process = sweep(sweep_dir, *args, background=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len([p for p in sweep_dir.glob("*/.hydra")]) < 2 * kill + 1:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    result = sweep(sweep_dir, *args)
    assert result.returncode == 0, result.stderr
    rows = trials(sweep_dir)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    abandoned = [r for r in rows if r["state"] == "FAIL"]
    assert len(complete) == 5 and abandoned  # no budget lost to the kills
    assert all(r["error"] == "abandoned: its process died before the trial finished" for r in abandoned)
    completed_params = {(r["x"], r["k"]) for r in complete}
    assert all((r["x"], r["k"]) in completed_params for r in abandoned)  # each was run again, same parameters
    import re

    finished = [int(n) for n in re.findall(r"\((\d+)/5 finished\)", result.stdout + result.stderr)]
    assert finished and max(finished) == 5  # abandoned trials are not counted as finished ones


def test_parallel_trials_start_as_soon_as_one_ends_and_die_with_the_sweep(tmp_path):
    import optuna

    from hpsearch.study import open_storage

    sweep_dir = tmp_path / "sweep"
    result = sweep(sweep_dir, "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=6", "sleep=0.25",
                   "sleep_grows_with_k=true", "hydra.sweeper.sampler.seed=3")
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="cheap", storage=open_storage(str(sweep_dir / "study.journal")))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    # in batches of two, a trial starts either with another or after it ended; here one starts while
    # another, started earlier, still runs: a slot freed by a short trial was filled at once
    started_meanwhile = [(a.number, b.number) for a in study.trials for b in study.trials
                         if a.datetime_start + timedelta(seconds=0.1) < b.datetime_start < a.datetime_complete]
    assert started_meanwhile, "no trial started while another ran: the sweep waited for a batch"

    killed_dir = tmp_path / "killed"
    process = sweep(killed_dir, "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=4", "sleep=30",
                    "record_pid=true", background=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(killed_dir.glob("*/pid"))) < 2:
        time.sleep(0.05)
    pids = [int(path.read_text()) for path in killed_dir.glob("*/pid")]
    assert len(pids) == 2
    os.kill(process.pid, signal.SIGKILL)  # the sweep process alone, not its process group
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids), "a trial outlived its sweep"


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its reaper does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_two_trials_at_a_time_with_the_joblib_launcher(tmp_path):
    result = sweep(tmp_path / "sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
                   "hydra.sweeper.n_trials=4", "sleep=0.5", fresh=True)
    assert result.returncode == 0, result.stderr
    rows = trials(tmp_path / "sweep")
    assert [r["state"] for r in rows] == ["COMPLETE"] * 4
    assert "Joblib.Parallel(n_jobs=2" in result.stdout


def test_two_sweep_processes_share_one_study_without_duplicates(tmp_path):
    storage = f"journal:{tmp_path / 'shared.journal'}"
    args = ["sleep=0.3", "hydra.sweeper.n_trials=8", f"hydra.sweeper.storage='{storage}'"]
    first = sweep(tmp_path / "a", *args, background=True)
    second = sweep(tmp_path / "b", *args, background=True)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert second.wait(timeout=120) == 0, second.stderr.read()
    import optuna

    from hpsearch.study import open_storage

    study = optuna.load_study(study_name="cheap", storage=open_storage(storage))
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 8  # n_trials exactly, between them
    assert all(t.state.name == "COMPLETE" or t.user_attrs.get("error", "").startswith("surplus")
               for t in study.trials)
    folders = {json.dumps(t.user_attrs["folder"]) for t in study.trials}
    assert len(folders) == len(numbers)  # every trial has a folder of its own


def test_a_job_whose_config_does_not_compose_is_a_failed_trial_not_a_lost_process(tmp_path):
    """Only the first job of each set of keys is composed in the sweep; a later value that fails to
    compose fails its trial, rather than ending the process without a result (which would be re-run forever)."""
    from hydra.errors import ConfigCompositionException

    from hpsearch.trial_process import launch_forked, wait_for_any

    class RefusingLauncher:
        def launch(self, batch, initial_job_idx):
            raise ConfigCompositionException("Could not override 'k' with 'abc'")

    process = launch_forked(RefusingLauncher(), ["k=abc"], 3, tmp_path)
    ended, result = wait_for_any([process])
    assert ended is process and process.status == 0
    assert result.status.name == "FAILED" and isinstance(result._return_value, ConfigCompositionException)
    assert not list(tmp_path.iterdir())  # the result file was read and removed

    sweeper, composed = _sweeper(), []
    sweeper.validate_batch_is_legal = composed.extend
    sweeper.validate_keys_once([["x=1", "k=0"], ["k=1", "x=2"]])
    sweeper.validate_keys_once([["x=3", "k=2", "y=1"]])
    assert composed == [["x=1", "k=0"], ["x=3", "k=2", "y=1"]]


def _sweeper(**settings):
    from hpsearch.sweeper import OptunaSweeper

    return OptunaSweeper(sampler={"_target_": "optuna.samplers.TPESampler"},
                         pruner={"_target_": "optuna.pruners.NopPruner"}, **settings)


def test_search_space_comes_from_params_the_command_line_or_the_model():
    from models import CNN
    from tests.conftest import compose_config

    sweeper = _sweeper(params={"model.dropout": "interval(0.0, 0.5)", "optimizer.lr": "interval(0.001, 0.1)"})
    sweeper.config = compose_config("model=cnn")
    space, fixed = sweeper.search_space(["model.filters=choice(8,16)", "optimizer.lr=0.01", "trainer.epochs=3"])
    assert set(space) == {"model.dropout", "model.filters"}  # lr fixed on the command line is not searched
    assert fixed == ["optimizer.lr=0.01", "trainer.epochs=3"]
    fallback = _sweeper()
    fallback.config = compose_config("model=cnn")
    space, _ = fallback.search_space([])
    assert set(space) == set(CNN.search_space)


def test_trials_running_together_on_this_machine_share_its_cores():
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    from tests.conftest import compose_config

    share = max(1, len(os.sched_getaffinity(0)) // 2)

    def fixed_overrides(arguments, config="model=mlp", launcher=BasicLauncher, **settings):
        sweeper = _sweeper(**{"n_jobs": 2, **settings})
        sweeper.config, sweeper.launcher = compose_config(config), launcher()
        return sweeper.search_space(arguments)[1]

    assert fixed_overrides(["trainer.epochs=3"]) == ["trainer.epochs=3", f"trainer.threads={share}"]
    assert fixed_overrides([], threads_per_trial=3) == ["trainer.threads=3"]
    assert fixed_overrides([], threads_per_trial=None) == []
    assert fixed_overrides([], n_jobs=1) == []  # one trial at a time keeps every core
    assert fixed_overrides(["trainer.threads=4"]) == ["trainer.threads=4"]  # the user's value stands
    assert fixed_overrides(["trainer.threads=choice(1,2)"]) == []  # ... and so does a searched one
    assert fixed_overrides([], config="trainer.threads=2") == []

    class SlurmLauncher:  # trials on other machines get their cores from the cluster
        pass

    assert fixed_overrides([], launcher=SlurmLauncher) == []


@pytest.mark.parametrize(("settings", "expected"), [
    ({"plots": "yes"}, "hydra.sweeper.plots='yes' is invalid: true or false"),
    ({"threads_per_trial": 0}, "hydra.sweeper.threads_per_trial=0 is invalid: auto, an integer >= 1"),
    ({"threads_per_trial": "all"}, "hydra.sweeper.threads_per_trial='all' is invalid"),
    ({"direction": "up"}, "hydra.sweeper.direction='up' is invalid"),
    ({"n_trials": 0}, "hydra.sweeper.n_trials=0 is invalid: an integer >= 1"),
    ({"n_trials": "abc"}, "hydra.sweeper.n_trials='abc' is invalid: an integer >= 1"),
    ({"max_failure_rate": 2.0}, "max_failure_rate=2.0 is invalid"),
])
def test_bad_sweeper_settings_are_config_errors(settings, expected):
    from conf.errors import ConfigError

    with pytest.raises(ConfigError, match=expected):
        _sweeper(**settings)


def test_hparams_sessions_are_named_per_sweep_and_carry_status_and_metric_names(tmp_path):
    """Read back with TensorBoard's own event reader: two sweeps' trial 0 stay two sessions."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import api_pb2, metadata
    from tensorboard.util import tensor_util

    from hpsearch.report import write_hparams
    from hpsearch.search_space import parse_space

    space = parse_space({"x": "interval(0, 1)"})
    trials = {"a": create_trial(params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, value=0.9),
              "b": create_trial(params={"x": 0.1}, distributions={"x": FloatDistribution(0, 1)},
                                state=TrialState.PRUNED, value=0.3),
              "c": create_trial(params={"x": 0.2}, distributions={"x": FloatDistribution(0, 1)},
                                state=TrialState.FAIL)}
    sessions = {}
    for study, trial in trials.items():
        trial.number = 0
        write_hparams(trial, space, tmp_path / study / "0", f"study_{study}", ["val_accuracy"])
        [path] = (tmp_path / study / "0" / "hparams").iterdir()
        found = {}
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                content = value.metadata.plugin_data.content
                if value.tag == metadata.SESSION_START_INFO_TAG:
                    start = metadata.parse_session_start_info_plugin_data(content)
                    found["group"], found["state"] = start.group_name, start.hparams["state"].string_value
                elif value.tag == metadata.SESSION_END_INFO_TAG:
                    found["status"] = metadata.parse_session_end_info_plugin_data(content).status
                else:  # TensorBoard's loader hands scalars over as tensors
                    found[value.tag] = float(tensor_util.make_ndarray(value.tensor)) if value.HasField(
                        "tensor") else value.simple_value
        sessions[study] = found
    assert sessions["a"] == {"group": "study_a/0", "state": "COMPLETE", "val_accuracy": pytest.approx(0.9),
                             "status": api_pb2.STATUS_SUCCESS}
    assert sessions["b"]["group"] == "study_b/0" and sessions["b"]["state"] == "PRUNED"
    assert sessions["c"]["status"] == api_pb2.STATUS_FAILURE and "val_accuracy" not in sessions["c"]
    assert optuna  # the trials above are Optuna's own FrozenTrial objects


def test_two_sweep_processes_on_a_real_postgresql_study(tmp_path, postgres_url):
    """Several machines on one study: here two processes, each with its own sweep folder, one database."""
    import optuna

    args = ["sleep=0.2", "hydra.sweeper.n_trials=8", f"hydra.sweeper.storage='{postgres_url}'",
            "hydra.sweeper.study_name=shared", "hydra.sweeper.sampler.seed=5"]
    first = sweep(tmp_path / "a", *args, background=True)
    second = sweep(tmp_path / "b", *args, background=True)
    assert first.wait(timeout=180) == 0, first.stderr.read()
    assert second.wait(timeout=180) == 0, second.stderr.read()
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 8  # exactly n_trials between them, no overshoot
    assert all(t in complete or t.user_attrs.get("error", "").startswith("surplus") for t in study.trials)
    assert len({t.number for t in study.trials}) == len(study.trials)
    surplus = [t for t in study.trials if t.user_attrs.get("error", "").startswith("surplus")]
    ran = [t for t in study.trials if t not in surplus]
    assert len({t.user_attrs["folder"] for t in ran}) == len(ran)
    assert not any("folder" in t.user_attrs for t in surplus)  # taken at the same moment by both: never run
    assert len({(t.params["x"], t.params["k"]) for t in complete}) == 8  # no two processes drew the same
    owners = {t.user_attrs["sweeper"] for t in complete}
    assert len(owners) == 2  # both processes ran trials
    reported = [len([r for r in trials(tmp_path / folder) if r["state"] == "COMPLETE"]) for folder in ("a", "b")]
    assert max(reported) == 8  # each process reports the whole study as it saw it last


def test_trials_as_submitit_jobs_locally_and_the_shipped_slurm_settings(tmp_path):
    """hydra/launcher=submitit_local runs the path Slurm jobs take (pickled job, own process, shared study)."""
    result = sweep(tmp_path / "sweep", "hydra/launcher=submitit_local", "hydra.sweeper.n_jobs=2",
                   "hydra.sweeper.n_trials=3", fresh=True)
    assert result.returncode == 0, result.stderr
    assert [r["state"] for r in trials(tmp_path / "sweep")] == ["COMPLETE"] * 3
    assert "Submitit 'local' sweep output dir" in result.stdout + result.stderr

    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        config = compose("config", overrides=["hpsearch=mlp", "hydra/launcher=slurm"], return_hydra_config=True)
    assert config.hydra.launcher._target_.endswith("SlurmLauncher")
    assert config.hydra.launcher.gpus_per_node == 1 and config.hydra.launcher.timeout_min == 240


def asked(sampler_config: dict, space: dict, trials: int, value=lambda params: 0.0) -> list[dict]:
    """The parameters of `trials` trials of an in-memory study with the sweeper's sampler for `space`."""
    import optuna
    from omegaconf import OmegaConf

    from hpsearch.search_space import parse_space
    from hpsearch.sweeper import instantiate_sampler

    parameters = parse_space(space)
    study = optuna.create_study(sampler=instantiate_sampler(OmegaConf.create(sampler_config), parameters))
    drawn = []
    for _ in range(trials):
        trial = study.ask({key: p.distribution for key, p in parameters.items()})
        drawn.append(dict(trial.params))
        study.tell(trial, value(trial.params))
    return drawn


@pytest.mark.parametrize("seed", range(6))
def test_a_small_space_is_tried_whole_before_any_trial_repeats(seed):
    """Three trials over a 3-value choice try all three; TPE past its start-up trials (it models the study and
    proposes its best again) still tries every combination of a 6-combination space in 6 trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tpe = {"_target_": "optuna.samplers.TPESampler", "seed": seed}
    assert sorted(p["y"] for p in asked(tpe, {"y": "choice(-4, -2, 0)"}, 3)) == [-4, -2, 0]
    assert len({p["y"] for p in asked(tpe, {"y": "choice(-4, -2, 0)"}, 5)}) == 3  # then repeats are allowed
    modelled = asked({**tpe, "n_startup_trials": 2}, {"a": "choice(1, 2, 3)", "b": "range(0, 2)"}, 6,
                     value=lambda params: params["a"] + params["b"])
    assert len({(p["a"], p["b"]) for p in modelled}) == 6


def test_a_continuous_space_gets_the_samplers_own_draws_and_trial_seeds_are_independent():
    import numpy as np
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"x": "interval(0.0, 1.0)"}
    random = {"_target_": "optuna.samplers.RandomSampler"}
    first = [asked({**random, "seed": seed}, space, 2) for seed in range(200)]
    # the wrapper only acts on finite spaces: these are the seeded sampler's own draws, trial by trial
    from hpsearch.sweeper import trial_seed

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=trial_seed(7, 1)))
    assert first[7][1]["x"] == study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)}).params["x"]
    x0, x1 = (np.array([draws[i]["x"] for draws in first]) for i in (0, 1))
    assert abs(np.corrcoef(x0, x1)[0, 1]) < 0.15  # trial 1's draw says nothing of trial 0's
    assert 0.4 < x0.mean() < 0.6 and 0.4 < x1.mean() < 0.6


def test_space_values_are_checked_alone_but_rules_between_keys_are_left_to_the_trials():
    from conf.errors import ConfigError
    from hpsearch.search_space import parse_space
    from hpsearch.sweeper import check_space_values
    from tests.conftest import compose_config

    config = compose_config("model=transformer", "dataset=topics")
    # width must be a multiple of heads: heads=6 fails with the default width 64, not with the widths searched
    check_space_values(config, parse_space({"model.heads": "choice(4, 6)", "model.width": "choice(48, 96)"}))
    with pytest.raises(ConfigError, match=r"model.dropout=2.0 is invalid: must be in \[0, 1\)"):
        check_space_values(config, parse_space({"model.dropout": "choice(0.1, 2.0)"}))
    check_space_values(config, parse_space({"model.dropout": "interval(0.0, 1.0)"}))  # [0, 1): open at the top


def test_the_untried_combination_taken_is_one_of_the_space_and_old_trials_of_another_space_do_not_count():
    import optuna

    from hpsearch.search_space import parse_space
    from hpsearch.sweeper import counts
    from hpsearch.untried import UntriedFirst

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {key: p.distribution for key, p in parse_space({"a": "choice(1, 2)", "b": "range(0.5, 2.0, 0.5)"}).items()}
    study = optuna.create_study(sampler=UntriedFirst(optuna.samplers.RandomSampler(seed=0), space, 0, counts))
    for old in ({"a": 9, "b": 0.5}, {"a": 8, "b": 1.0}):  # a resumed study's trials of another space
        study.add_trial(optuna.trial.create_trial(params=old, distributions={
            "a": optuna.distributions.CategoricalDistribution([old["a"]]),
            "b": optuna.distributions.FloatDistribution(0.0, 1.0)}, value=0.0))
    drawn = []
    for _ in range(6):
        trial = study.ask(space)
        drawn.append((trial.params["a"], round(trial.params["b"], 9)))
        study.tell(trial, 0.0)
    assert sorted(drawn) == [(a, b) for a in (1, 2) for b in (0.5, 1.0, 1.5)]  # all six, each once


def test_a_job_that_keeps_ending_without_a_result_is_run_again_twice_then_fails(tmp_path):
    import optuna
    from omegaconf import OmegaConf
    from submitit.core.utils import UncompletedJobError

    from hpsearch.search_space import parse_space
    from hpsearch.sweeper import OptunaSweeper

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweeper = OptunaSweeper(sampler={}, pruner={}, direction="minimize")
    sweeper.sweep_dir, sweeper.config = tmp_path, OmegaConf.create({})
    space = parse_space({"x": "interval(0.0, 1.0)"})
    study = optuna.create_study()
    for _ in range(3):  # the job of the same parameters hits its time limit three times
        trial = study.ask({"x": space["x"].distribution})
        sweeper.job_without_result(study, trial, UncompletedJobError("state: TIMEOUT"), space)
    states = [(t.state.name, t.user_attrs.get("error", "")) for t in study.trials]
    assert [state for state, _ in states] == ["FAIL", "FAIL", "FAIL"]  # nothing queued after the third
    assert states[0][1].startswith("abandoned") and states[1][1].startswith("abandoned")
    assert states[2][1] == "UncompletedJobError: state: TIMEOUT (its parameters' job ended so 3 times)"
    assert len({t.params["x"] for t in study.trials[:3]}) == 1  # each time the same parameters
