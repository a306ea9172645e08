"""Configs written for the published hydra-optuna-sweeper 1.3 keep working with this project's sweeper.

The published documentation's example apps and configs are in `tests/published_examples/` as
written there; each runs against this sweeper on its cheap objective (no TensorFlow), and the test
checks that it searched the same space (with the differences the README's "Coming from
hydra-optuna-sweeper" lists, e.g. `range` excluding its stop value).
"""

from __future__ import annotations

import inspect
import os
import subprocess
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.conftest import PROJECT_ROOT, run_script

EXAMPLES = PROJECT_ROOT / "tests" / "published_examples"
SWEEPER_CONF = PROJECT_ROOT / "conf" / "hydra" / "sweeper"


def run_example(tmp_path: Path, app: str, *overrides: str) -> tuple[subprocess.CompletedProcess, Path]:
    sweep_dir = tmp_path / "sweep"
    env = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    # the plugin is found on sys.path (each app puts the project there), its configs on Hydra's search path
    search_path = f"hydra.searchpath=[file://{PROJECT_ROOT / 'conf'}]"
    no_plots = "hydra.sweeper.plots=false"  # seconds of matplotlib and scikit-learn that no test here looks at
    result = run_script(tmp_path, EXAMPLES / app, "--multirun", f"hydra.sweep.dir={sweep_dir}", search_path,
                        no_plots, *overrides, env=env, timeout=180)
    return result, sweep_dir


def load_study(sweep_dir: Path) -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(sweep_dir / "study.journal")))
    return optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)


def test_example_1_single_objective_searches_the_same_space(tmp_path):
    result, sweep_dir = run_example(tmp_path, "sphere.py")
    assert result.returncode == 0, result.stderr
    study = load_study(sweep_dir)
    assert study.study_name == "sphere" and [d.name for d in study.directions] == ["MINIMIZE"]
    assert len(study.trials) == 20 and all(t.state.name == "COMPLETE" for t in study.trials)
    distributions = study.trials[0].distributions
    # range(-5.5, 5.5, step=0.5): the published plugin includes 5.5, Hydra's grammar (and this sweeper) do not
    assert distributions["x"] == FloatDistribution(-5.5, 5.0, step=0.5)
    assert distributions["y"] == CategoricalDistribution([-5, 0, 5])
    assert all(t.value == pytest.approx(t.params["x"] ** 2 + t.params["y"] ** 2) for t in study.trials)
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] == min(t.value for t in study.trials)
    assert results["directions"] == ["minimize"] and results["direction_source"] == "hydra.sweeper.direction"


def test_example_2_multi_objective_with_nsgaii(tmp_path):
    result, sweep_dir = run_example(tmp_path, "multi-objective.py", "hydra.sweeper.n_trials=8")  # as written: 20
    assert result.returncode == 0, result.stderr
    study = load_study(sweep_dir)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    assert "(NSGAIISampler, " in result.stdout + result.stderr  # these apps log as Hydra does: to stdout
    assert study.trials[0].distributions == {"x": FloatDistribution(0, 4.5, step=0.5),
                                             "y": FloatDistribution(0, 2.5, step=0.5)}
    front = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())["pareto_front"]
    assert front and all(len(entry["values"]) == 2 for entry in front)


def test_example_3_custom_search_space_suggests_dependent_parameters(tmp_path):
    result, sweep_dir = run_example(tmp_path, "custom-search-space-objective.py", "hydra.sweeper.n_trials=8")
    assert result.returncode == 0, result.stderr
    study = load_study(sweep_dir)
    assert len(study.trials) == 8
    for trial in study.trials:
        assert set(trial.params) == {"x", "y", "z", "+w"}
        assert abs(trial.params["z"] - trial.params["x"]) <= 0.5 and 0 <= trial.params["+w"] <= 1
        expected = trial.params["+w"] ** 2 + trial.params["x"] ** 2 + trial.params["y"] ** 2 + trial.params["z"] ** 2
        assert trial.value == pytest.approx(expected)


def test_the_published_plugins_older_forms_still_run(tmp_path):
    """motpe, any sampler argument without `+`, and the old `search_space` key."""
    result, sweep_dir = run_example(
        tmp_path, "sphere.py", "hydra/sweeper/sampler=motpe", "hydra.sweeper.sampler.multivariate=true",
        "hydra.sweeper.sampler.n_startup_trials=3", "hydra.sweeper.sampler.constant_liar=false",
        "hydra.sweeper.n_trials=6", "~hydra.sweeper.params",
        "hydra.sweeper.search_space={x:{type:float,low:-1.0,high:1.0},y:{type:int,low:0,high:3,step:1}}")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "hydra/sweeper/sampler=motpe is the published plugin's name for multi-objective TPE; use " \
           "hydra/sweeper/sampler=tpe" in output
    assert "hydra.sweeper.search_space is the published plugin's old key" in output
    study = load_study(sweep_dir)
    assert study.trials[0].distributions == {"x": FloatDistribution(-1.0, 1.0), "y": IntDistribution(0, 3)}
    (tmp_path / "bad").mkdir()
    bad = run_example(tmp_path / "bad", "sphere.py", "hydra.sweeper.search_space={x:{type:gaussian}}")[0]
    assert bad.returncode != 0 and "hydra.sweeper.search_space.x={'type': 'gaussian'} is invalid" in \
        bad.stdout + bad.stderr


def test_no_direction_means_minimize_for_an_app_without_optimized_metric(tmp_path):
    result, sweep_dir = run_example(tmp_path, "sphere.py", "hydra.sweeper.direction=null", "hydra.sweeper.n_trials=3")
    assert result.returncode == 0, result.stderr
    assert "optimising minimize (the default of an app without optimized_metric" in result.stdout + result.stderr
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["directions"] == ["minimize"] and results["direction_source"].startswith("the default")


def test_a_used_up_grid_ends_the_sweep_with_exit_0(tmp_path):
    result, sweep_dir = run_example(tmp_path, "sphere.py", "hydra/sweeper/sampler=grid",
                                    "hydra.sweeper.params={x:'choice(0, 1)',y:'choice(-5, 5)'}")
    assert result.returncode == 0, result.stderr
    study = load_study(sweep_dir)
    assert sorted((t.params["x"], t.params["y"]) for t in study.trials) == [(0, -5), (0, 5), (1, -5), (1, 5)]


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
