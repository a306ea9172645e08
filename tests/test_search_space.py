"""The models' search-space hook and its sampler: pure functions, no TensorFlow."""

from __future__ import annotations

import random

import pytest

from conf.errors import ConfigError
from hpsearch.search_space import sample_params
from models import CNN, MLP


def test_choice_draws_only_listed_values():
    draws = {sample_params({"a": "choice(1, 2, 3)"}, random.Random(i))["a"] for i in range(50)}
    assert draws == {1, 2, 3}


def test_range_excludes_its_stop_value_like_python():
    draws = {sample_params({"a": "range(0, 10, 3)"}, random.Random(i))["a"] for i in range(200)}
    assert draws == {0, 3, 6, 9}
    draws = {sample_params({"a": "range(1, 4)"}, random.Random(i))["a"] for i in range(200)}
    assert draws == {1, 2, 3}


def test_interval_and_log_interval_stay_in_bounds():
    rng = random.Random(0)
    values = [sample_params({"lr": "tag(log, interval(1e-4, 1e-1))"}, rng)["lr"] for _ in range(400)]
    assert all(1e-4 <= v <= 1e-1 for v in values)
    # log-uniform: about a third of the draws in each decade
    assert 80 < sum(v < 1e-3 for v in values) < 190
    floats = [sample_params({"d": "interval(0.0, 0.5)"}, rng)["d"] for _ in range(100)]
    assert all(0.0 <= v <= 0.5 for v in floats)


def test_log_interval_must_be_positive():
    with pytest.raises(ConfigError, match="low > 0"):
        sample_params({"lr": "tag(log, interval(0, 1))"}, random.Random(0))


def test_get_random_config_is_seeded_and_covers_the_space():
    assert MLP.get_random_config(seed=3) == MLP.get_random_config(seed=3)
    config = CNN.get_random_config(seed=1)
    assert set(config) == set(CNN.search_space)
    assert config["model.filters"] in (16, 32, 64)
    assert 1e-4 <= config["optimizer.lr"] <= 1e-2
    assert MLP.get_random_config(seed=0)["model.hidden_units"] in ([128], [256], [256, 128], [512, 256])


def test_best_config_is_none_without_a_file():
    assert MLP.best_config("no_such_dataset") is None
