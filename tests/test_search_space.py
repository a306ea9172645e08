"""Search spaces in Hydra's sweep grammar: Optuna distributions, random draws, overrides. No TensorFlow."""

from __future__ import annotations

import random

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from conf.errors import ConfigError
from hpsearch.search_space import as_override, get_random_config, grid_values, parse_space, sample_params
from models import CNN, MLP


def test_every_form_of_the_grammar_becomes_a_distribution():
    space = parse_space({
        "a": "choice(1, 2, 3)", "b": "range(0, 10, 3)", "c": "range(0.0, 1.0, 0.25)", "d": "interval(0.0, 0.5)",
        "e": "int(interval(1, 8))", "f": "tag(log, interval(1e-4, 1e-2))", "g": "choice([128],[256,128])", "h": 7,
    })
    assert space["a"].distribution == CategoricalDistribution([1, 2, 3])
    assert space["b"].distribution == IntDistribution(0, 9, step=3)  # stop excluded, as in Python
    assert space["c"].distribution == FloatDistribution(0.0, 0.75, step=0.25)
    assert space["d"].distribution == FloatDistribution(0.0, 0.5)
    assert space["e"].distribution == IntDistribution(1, 8)
    assert parse_space({"e": "interval(1, 8)"})["e"].distribution == FloatDistribution(1.0, 8.0)  # Hydra's floats
    assert space["f"].distribution == FloatDistribution(1e-4, 1e-2, log=True)
    assert space["g"].distribution == CategoricalDistribution(["[128]", "[256, 128]"])
    assert space["g"].value("[256, 128]") == [256, 128]
    assert space["h"].distribution == CategoricalDistribution([7])


def test_range_excludes_its_stop_value_like_python():
    draws = {sample_params({"a": "range(0, 10, 3)"}, random.Random(i))["a"] for i in range(200)}
    assert draws == {0, 3, 6, 9}
    assert {sample_params({"a": "range(1, 4)"}, random.Random(i))["a"] for i in range(200)} == {1, 2, 3}
    assert grid_values(parse_space({"a": "range(1, 4)"})["a"]) == [1, 2, 3]


def test_choice_draws_only_listed_values():
    assert {sample_params({"a": "choice(1, 2, 3)"}, random.Random(i))["a"] for i in range(50)} == {1, 2, 3}


def test_log_interval_draws_are_log_uniform():
    rng = random.Random(0)
    values = [sample_params({"lr": "tag(log, interval(1e-4, 1e-1))"}, rng)["lr"] for _ in range(400)]
    assert all(1e-4 <= v <= 1e-1 for v in values)
    assert 80 < sum(v < 1e-3 for v in values) < 190  # about a third in each decade


@pytest.mark.parametrize(("space", "expected"), [
    ({"lr": "tag(log, interval(0, 1))"}, "a log interval needs low > 0"),
    ({"a": "range(5, 1)"}, r"range\(5, 1, 1\) is empty"),
    ({"a": "interval(1.0, 1.0)"}, "is empty: low must be below high"),
    ({"a": "choice(1,"}, "search space a=choice"),
])
def test_bad_spaces_are_config_errors(space, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_space(space)


def test_grid_needs_finite_parameters():
    with pytest.raises(ConfigError, match="grid sampler needs choice"):
        grid_values(parse_space({"d": "interval(0.0, 1.0)"})["d"])


@pytest.mark.parametrize("value", [0.001, 3, True, None, "relu", "it's", [256, 128], [0.5, "a"]])
def test_overrides_round_trip_through_hydras_parser(value):
    parsed = OverridesParser.create().parse_override(as_override("model.x", value)).value()
    assert parsed == value


def test_get_random_config_is_seeded_and_covers_the_space():
    assert get_random_config(MLP, seed=3) == get_random_config(MLP, seed=3)
    config = get_random_config(CNN, seed=1)
    assert set(config) == set(CNN.search_space)
    assert config["model.filters"] in (16, 32, 64)
    assert 1e-4 <= config["optimizer.lr"] <= 1e-2
    assert get_random_config(MLP, seed=0)["model.hidden_units"] in ([128], [256], [256, 128], [512, 256])


def test_best_config_is_none_without_a_file():
    assert MLP.best_config("no_such_dataset") is None
