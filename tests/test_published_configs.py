"""The sweeper behaves as the published hydra-optuna-sweeper (1.3) wherever the README does not say otherwise.

Written from the published plugin's documentation and from what its own test suite checks through its apps
(examples with and without sweeps on the command line, `n_jobs`, the failure rate, the grid sampler, several
objectives, a custom search space, the old `search_space` key, the keys of `optimization_results.yaml`), on
apps of our own in `tests/plugin_apps/`, each run as that suite runs its apps: `python -W error app.py
--multirun ...`, in which any warning is an error (forked from the test server, which imported Hydra,
Optuna and the sweeper already; one example runs in a fresh interpreter, so that the imports' own
warnings are errors too). The differences the README's "Coming
from hydra-optuna-sweeper" lists (e.g. `range` excluding its stop value) are asserted as such.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.conftest import PROJECT_ROOT, run_script

APPS = PROJECT_ROOT / "tests" / "plugin_apps"
SWEEPER_CONF = PROJECT_ROOT / "conf" / "hydra" / "sweeper"
SEARCH_PATH = f"hydra.searchpath=[file://{PROJECT_ROOT / 'conf'}]"  # the sweeper's configs; the plugin is on sys.path


def run_app(tmp_path: Path, app: str, *overrides: str, fresh: bool = False) -> tuple[subprocess.CompletedProcess, Path]:
    """`python -W error <app> --multirun hydra.sweep.dir=<tmp>/sweep <overrides>`, in tmp_path: forked from
    the test server with warnings as errors (tests/main_server.py), or with `fresh` in a new interpreter,
    where the imports' own warnings are errors too."""
    sweep_dir = tmp_path / "sweep"
    env = {key: value for key, value in os.environ.items() if key not in ("HYDRA_FULL_ERROR", "PYTHONWARNINGS")}
    flags = [o for o in overrides if o.startswith("--")]  # --config-name=...: before the overrides
    args = [*flags, "--multirun", f"hydra.sweep.dir={sweep_dir}", SEARCH_PATH,
            *(o for o in overrides if o not in flags)]
    if not fresh:
        return run_script(tmp_path, APPS / app, *args, env=env, timeout=180, warnings_as_errors=True), sweep_dir
    result = subprocess.run([sys.executable, "-W", "error", str(APPS / app), *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    return result, sweep_dir


def succeeded(result: subprocess.CompletedProcess) -> str:
    """The run's whole output, once it is known to have exited 0 (Hydra logs to stdout, Optuna to stderr)."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def results_of(sweep_dir: Path) -> dict:
    return yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())


def load_study(sweep_dir: Path) -> optuna.Study:
    from hpsearch.study import open_storage

    storage = open_storage(str(sweep_dir / "study.journal"))
    return optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("with_command_line", [False, True])
def test_a_sweep_writes_the_published_results_and_its_plots_without_a_warning(tmp_path, with_command_line):
    """The published `test_optuna_example`: a seeded TPE search, with or without sweeps on the command line,
    `~key` deleting a config key; `python -W error` with the end-of-sweep plots on (the default)."""
    extra = ["x=choice(0, 1, 2)", "y=-2"] if with_command_line else []
    output = succeeded(run_app(tmp_path, "paraboloid.py", "hydra.job.chdir=True", "~unused", *extra,
                               fresh=not with_command_line)[0])
    sweep_dir = tmp_path / "sweep"
    study, results = load_study(sweep_dir), results_of(sweep_dir)
    assert results["name"] == "optuna" and study.study_name == "bowl" and len(study.trials) == 12
    assert results["best_value"] == study.best_value == min(t.value for t in study.trials)
    assert results["best_params"] == study.best_trial.params
    if with_command_line:  # y fixed on the command line is not a parameter; x a choice of the line's
        assert "y" not in results["best_params"] and study.trials[0].distributions == {
            "x": CategoricalDistribution([0, 1, 2])}
        assert {t.params["x"] for t in study.trials[:3]} == {0, 1, 2}  # three trials, three values: no repeat
    else:  # range(-3.0, 3.5, step=0.5): 3.5 excluded, as in Hydra's grammar (the published plugin includes it)
        assert study.trials[0].distributions == {"x": FloatDistribution(-3.0, 3.0, step=0.5),
                                                 "y": CategoricalDistribution([-4, -2, 0])}
    assert results["best_value"] <= 0.25  # the bowl's bottom is 0, on the grid of x; TPE gets next to it
    for name in ("optimization_history", "param_importances"):
        assert (sweep_dir / f"{name}.html").stat().st_size > 1000 and (sweep_dir / f"{name}.png").exists()
    assert "Warning" not in output


def test_two_objectives_give_the_published_solutions(tmp_path):
    """The published `test_optuna_multi_objective_example`: `solutions`, each `{params, values}`, none
    dominating another; Optuna's plots warn for several objectives, which must not fail `-W error`."""
    output = succeeded(run_app(tmp_path, "trade_off.py")[0])
    results = results_of(tmp_path / "sweep")
    assert results["name"] == "optuna" and results["directions"] == ["minimize", "minimize"]
    solutions = results["solutions"]
    assert solutions and all(set(s) >= {"params", "values"} and len(s["values"]) == 2 for s in solutions)
    for a in solutions:
        assert a["params"]["x"] % 0.5 == 0 and a["params"]["y"] % 0.5 == 0
        assert not any(dominates(b["values"], a["values"]) for b in solutions)
    assert "(NSGAIISampler, " in output
    assert "param_importances plot: " in output  # Optuna's warning while it drew, as one log line


def test_two_objectives_on_integer_ranges_from_the_command_line(tmp_path):
    succeeded(run_app(tmp_path, "trade_off.py", "x=range(0, 5)", "y=range(0, 3)", "hydra.sweeper.plots=false",
                      "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=123")[0])
    solutions = results_of(tmp_path / "sweep")["solutions"]
    assert solutions and all(isinstance(s["params"]["x"], int) and 0 <= s["params"]["x"] <= 4 for s in solutions)


@pytest.mark.parametrize(("n_trials", "expected"), [(20, 8), (1, 1)])
def test_the_grid_sampler_tries_each_combination_once(tmp_path, n_trials, expected):
    """The published `test_example_with_grid_sampler`: a used-up grid ends the sweep, exit 0."""
    succeeded(run_app(tmp_path, "paraboloid.py", "--config-name=grid", f"hydra.sweeper.n_trials={n_trials}")[0])
    study, results = load_study(tmp_path / "sweep"), results_of(tmp_path / "sweep")
    combinations = [(t.params["x"], t.params["y"], t.params["label"]) for t in study.trials]
    assert len(combinations) == len(set(combinations)) == expected
    assert all(x in (0, 1) and y in (-2.0, -1.0) and label in ("near", "far") for x, y, label in combinations)
    if expected == 8:
        assert results["best_value"] == 0 and results["best_params"] == {"x": 1, "y": -2.0, "label": "near"}


def test_a_custom_search_space_suggests_dependent_and_new_keys(tmp_path):
    """The published `test_optuna_custom_search_space_example`: `.module.function` beside the app, a key
    it adds with `+` in its name."""
    succeeded(run_app(tmp_path, "dependent.py", "hydra.sweeper.plots=false")[0])
    study, results = load_study(tmp_path / "sweep"), results_of(tmp_path / "sweep")
    assert len(study.trials) == 10
    for trial in study.trials:
        assert set(trial.params) == {"x", "y", "width", "+bonus"}
        assert abs(trial.params["width"] - trial.params["x"]) <= 0.25 and 0 <= trial.params["+bonus"] <= 2
        expected = (trial.params["x"] - trial.params["width"]) ** 2 + trial.params["+bonus"] + abs(trial.params["y"])
        assert trial.value == pytest.approx(expected)
    assert 0 <= results["best_params"]["+bonus"] <= 2


def test_the_old_search_space_key_runs_with_a_notice_not_a_warning(tmp_path):
    """The published `test_example_with_deprecated_search_space` (which has to pass `-W ignore::UserWarning`:
    the published plugin warns); here a log line says what to write instead, and `-W error` passes."""
    output = succeeded(run_app(tmp_path, "paraboloid.py", "--config-name=old_search_space",
                               "hydra.sweeper.plots=false")[0])
    assert "hydra.sweeper.search_space is the published plugin's old key" in output
    study = load_study(tmp_path / "sweep")
    assert study.trials[0].distributions == {"x": FloatDistribution(-2.0, 2.0), "y": IntDistribution(-3, 0)}
    assert results_of(tmp_path / "sweep")["name"] == "optuna" and abs(study.best_params["x"]) <= 2


def test_params_and_the_old_search_space_together_search_both_and_params_win(tmp_path):
    """The published plugin warns when both are set and searches `params` alone; here both are searched, and
    for a key in both `params` wins (README: "Coming from hydra-optuna-sweeper")."""
    output = succeeded(run_app(tmp_path, "paraboloid.py", "hydra.sweeper.plots=false", "hydra.sweeper.n_trials=4",
                               "hydra.sweeper.search_space={x:{type:float,low:0.0,high:0.5},"
                               "label:{type:categorical,choices:[near,far]}}")[0])
    assert "hydra.sweeper.search_space is the published plugin's old key" in output
    assert load_study(tmp_path / "sweep").trials[0].distributions == {
        "x": FloatDistribution(-3.0, 3.0, step=0.5), "y": CategoricalDistribution([-4, -2, 0]),
        "label": CategoricalDistribution(["near", "far"])}


@pytest.mark.parametrize("max_failure_rate", [0.5, 1.0])
def test_the_failure_rate_stops_the_sweep_or_lets_it_finish(tmp_path, max_failure_rate):
    """The published `test_failure_rate`: every trial fails; above the rate the sweep stops and its error
    reaches stderr; at 1.0 every trial runs, each recorded FAIL."""
    result, sweep_dir = run_app(tmp_path, "paraboloid.py", "fail=true", "hydra.sweeper.n_jobs=2",
                                f"hydra.sweeper.max_failure_rate={max_failure_rate}", "hydra/sweeper/sampler=random",
                                "hydra.sweeper.sampler.seed=123")
    error = "RuntimeError: the app was told to fail"
    study = load_study(sweep_dir)
    if max_failure_rate < 1:
        assert result.returncode != 0 and error in result.stderr.strip().splitlines()[-1]
        assert len(study.trials) < 12
    else:
        assert result.returncode == 0 and error not in result.stderr
        assert len(study.trials) == 12 and all(t.state.name == "FAIL" for t in study.trials)
        assert all(t.user_attrs["error"] == error for t in study.trials)


def test_an_app_without_config_groups_sweeps_with_the_default_study_name(tmp_path):
    """An app of its own (no model or dataset groups, no config file) and the default `study_name`."""
    succeeded(run_app(tmp_path, "bare.py", "hydra/sweeper=optuna", "+x=interval(-5, 5)", "hydra.sweeper.n_trials=3")[0])
    study, results = load_study(tmp_path / "sweep"), results_of(tmp_path / "sweep")
    assert study.study_name == results["study_name"] == "bare"  # the app's name
    assert len(study.trials) == 3 and all(-5 <= t.params["+x"] <= 5 for t in study.trials)


def test_nothing_to_search_runs_every_trial_on_the_fixed_config(tmp_path):
    """The published `test_launch_jobs` (no parameters, `n_jobs=3`) and a sweep whose every key is fixed on
    the command line: the trials run, best value 2."""
    output = succeeded(run_app(tmp_path, "bare.py", "hydra/sweeper=optuna", "+x=1", "+y=1",
                               "hydra.sweeper.n_trials=8", "hydra.sweeper.n_jobs=3")[0])
    study, results = load_study(tmp_path / "sweep"), results_of(tmp_path / "sweep")
    assert len(study.trials) == 8 and all(t.value == 2.0 and t.params == {} for t in study.trials)
    assert results["best_value"] == 2.0 and results["best_params"] == {}
    assert "nothing to search: every trial runs the same config" in output


def test_the_published_plugins_older_forms_still_run(tmp_path):
    """motpe, and any sampler argument set without `+`."""
    output = succeeded(run_app(
        tmp_path, "paraboloid.py", "hydra/sweeper/sampler=motpe", "hydra.sweeper.sampler.multivariate=true",
        "hydra.sweeper.sampler.n_startup_trials=3", "hydra.sweeper.sampler.constant_liar=false",
        "hydra.sweeper.n_trials=6", "hydra.sweeper.plots=false")[0])
    assert "hydra/sweeper/sampler=motpe is the published plugin's name for multi-objective TPE; use " \
           "hydra/sweeper/sampler=tpe" in output
    assert len(load_study(tmp_path / "sweep").trials) == 6
    (tmp_path / "bad").mkdir()
    bad = run_app(tmp_path / "bad", "paraboloid.py", "hydra.sweeper.search_space={x:{type:gaussian}}")[0]
    assert bad.returncode != 0 and "hydra.sweeper.search_space.x={'type': 'gaussian'} is invalid" in \
        bad.stdout + bad.stderr


def test_no_direction_means_minimize_for_an_app_without_optimized_metric(tmp_path):
    output = succeeded(run_app(tmp_path, "paraboloid.py", "hydra.sweeper.direction=null", "hydra.sweeper.n_trials=3",
                               "hydra.sweeper.plots=false")[0])
    assert "optimising minimize (the default of an app without optimized_metric" in output
    results = results_of(tmp_path / "sweep")
    assert results["directions"] == ["minimize"] and results["direction_source"].startswith("the default")


def test_shuffle_of_a_range_is_a_choice_as_published():
    from hpsearch.search_space import parse_space

    space = parse_space({"k": "shuffle(range(-5, 5))", "c": "shuffle(choice(a, b))", "r": "range(-5, 5)"})
    assert space["k"].distribution == CategoricalDistribution(list(range(-5, 5)))
    assert space["c"].distribution == CategoricalDistribution(["a", "b"])
    assert space["r"].distribution == IntDistribution(-5, 4)  # a plain range stays an ordered integer range


@pytest.mark.parametrize(("override", "expected"), [
    ("key=choice(1,2)", CategoricalDistribution([1, 2])),
    ("key=choice(true, false)", CategoricalDistribution([True, False])),
    ("key=choice('hello', 'world')", CategoricalDistribution(["hello", "world"])),
    ("key=shuffle(range(1,3))", CategoricalDistribution([1, 2])),
    ("key=range(1,3)", IntDistribution(1, 2)),  # the published plugin: 1 to 3
    ("key=interval(1, 5)", FloatDistribution(1, 5)),
    ("key=int(interval(1, 5))", IntDistribution(1, 5)),
    ("key=tag(log, interval(1, 5))", FloatDistribution(1, 5, log=True)),
    ("key=tag(log, int(interval(1, 5)))", IntDistribution(1, 5, log=True)),
    ("key=range(0.5, 5.5, step=1)", FloatDistribution(0.5, 4.5, step=1)),
    ("key=5", "5"),
])
def test_the_published_helpers_build_optuna_distributions(override, expected):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hpsearch.compat import create_optuna_distribution_from_override

    parsed = OverridesParser.create().parse_overrides([override])[0]
    assert create_optuna_distribution_from_override(parsed) == expected


def test_the_published_helpers_split_overrides_and_read_the_old_form():
    from hpsearch.compat import Direction, create_optuna_distribution_from_config, create_params_from_overrides

    assert create_params_from_overrides(["key1=choice(1,2)", "key2=5", "key3=range(1,3)"]) == (
        {"key1": CategoricalDistribution([1, 2]), "key3": IntDistribution(1, 2)}, {"key2": "5"})
    assert create_optuna_distribution_from_config({"type": "int", "low": 0, "high": 10, "step": 2}) == \
        IntDistribution(0, 10, step=2)
    assert create_optuna_distribution_from_config({"type": "float", "low": 1, "high": 100, "log": True}) == \
        FloatDistribution(1, 100, log=True)
    assert create_optuna_distribution_from_config({"type": "categorical", "choices": [1, 2, 3]}) == \
        CategoricalDistribution([1, 2, 3])
    assert [d.name for d in Direction] == ["minimize", "maximize"]


@pytest.mark.parametrize("group", ["sampler", "pruner"])
def test_every_constructor_argument_is_a_key(group):
    """`hydra.sweeper.sampler.<argument>=...` works for every argument, as with the published plugin."""
    for path in sorted((SWEEPER_CONF / group).glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        if "_target_" not in config:  # an alias (motpe) that extends another file
            continue
        module, _, name = config["_target_"].rpartition(".")
        cls = getattr(__import__(module, fromlist=[name]), name)
        arguments = {p.name for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} - {"search_space"}
        keys = set(config) - {"_target_"}
        assert keys == arguments, f"{path.name}: missing {sorted(arguments - keys)}, unknown {sorted(keys - arguments)}"
