"""Search spaces written in Hydra's sweep grammar, as Optuna distributions and as overrides.

A space maps a config key to an expression, exactly as it would be typed on the command line:
`choice(a, b)`, `range(start, stop, step)` (stop excluded, as in Python), `interval(low, high)`
(floats; `int(interval(low, high))` for integers), and `tag(log, interval(low, high))` for a log
scale. A plain value is a choice of one. Everything here is pure: no TensorFlow, no study.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from conf.errors import ConfigError, first_line


@dataclass
class Parameter:
    """One searched config key: its Optuna distribution, and the original values of choices
    Optuna cannot store (lists, dicts), by the label Optuna stores instead."""

    key: str
    distribution: BaseDistribution
    labels: dict[str, Any] = field(default_factory=dict)

    def value(self, optuna_value: Any) -> Any:
        """The config value for what Optuna suggested."""
        return self.labels.get(optuna_value, optuna_value) if isinstance(optuna_value, str) else optuna_value


def _is_int(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _choice(key: str, values: list[Any]) -> Parameter:
    labels, choices = {}, []
    for value in values:
        value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        if isinstance(value, (list, dict)):
            label = json.dumps(value)
            labels[label] = value
            value = label
        choices.append(value)
    return Parameter(key, CategoricalDistribution(choices), labels)


def to_parameter(key: str, sweep: Any) -> Parameter:
    """Hydra's parsed sweep (or plain value) for `key` as a Parameter."""
    if isinstance(sweep, ChoiceSweep):
        return _choice(key, list(sweep.list))
    if isinstance(sweep, RangeSweep):
        start, stop, step = sweep.start, sweep.stop, sweep.step
        count = math.ceil((stop - start) / step)
        if count <= 0:
            raise ConfigError(f"{key}=range({start}, {stop}, {step}) is empty (the stop value is excluded)")
        last = start + (count - 1) * step
        if sweep.shuffle:  # shuffle(range(...)): its values as an unordered choice, as the published plugin has it
            return _choice(key, [start + i * step for i in range(count)])
        if _is_int(start, stop, step):
            return Parameter(key, IntDistribution(start, last, step=step))
        return Parameter(key, FloatDistribution(start, last, step=step))
    if isinstance(sweep, IntervalSweep):
        low, high, log = sweep.start, sweep.end, "log" in sweep.tags
        if low >= high:
            raise ConfigError(f"{key}=interval({low}, {high}) is empty: low must be below high")
        if log and low <= 0:
            raise ConfigError(f"{key}=tag(log, interval({low}, {high})): a log interval needs low > 0")
        if _is_int(low, high):
            return Parameter(key, IntDistribution(low, high, log=log))
        return Parameter(key, FloatDistribution(float(low), float(high), log=log))
    return _choice(key, [sweep])


def parse_space(space: dict[str, Any]) -> dict[str, Parameter]:
    """Parse `{key: expression}` (expressions as strings, or plain values) into Parameters."""
    parser = OverridesParser.create()
    parsed = {}
    for key, expression in space.items():
        text = expression if isinstance(expression, str) else json.dumps(
            OmegaConf.to_container(expression) if OmegaConf.is_config(expression) else expression)
        try:
            override = parser.parse_override(f"{key}={text}")
        except Exception as error:  # Hydra's grammar errors are several types
            raise ConfigError(f"search space {key}={text}: {first_line(error)}") from None
        parsed[key] = to_parameter(key, override.value())
    return parsed


def legacy_parameter(key: str, spec: Any) -> Parameter:
    """One entry of the published hydra-optuna-sweeper's old `search_space` key:
    `{type: categorical|int|float, choices | low, high[, step][, log]}`, as a Parameter."""
    spec = OmegaConf.to_container(spec) if OmegaConf.is_config(spec) else spec
    kind = str(spec.get("type", "")).lower().rsplit(".", 1)[-1] if isinstance(spec, dict) else ""
    try:
        if kind == "categorical":
            return _choice(key, list(spec["choices"]))
        if kind in ("int", "float"):
            cls = IntDistribution if kind == "int" else FloatDistribution
            step = spec.get("step")
            return Parameter(key, cls(spec["low"], spec["high"], log=bool(spec.get("log", False)),
                                      step=step if step is not None else (1 if kind == "int" else None)))
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"hydra.sweeper.search_space.{key}={spec!r} is invalid: {first_line(error)}") from None
    raise ConfigError(f"hydra.sweeper.search_space.{key}={spec!r} is invalid: a mapping with type: categorical "
                      "(and choices), int or float (and low, high, optional step, log)")


def sample(parameter: Parameter, rng: random.Random) -> Any:
    """A uniform draw from the parameter's distribution (log-uniform on a log scale)."""
    distribution = parameter.distribution
    if isinstance(distribution, CategoricalDistribution):
        return parameter.value(rng.choice(distribution.choices))
    low, high = distribution.low, distribution.high
    if distribution.log:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
        return min(high, max(low, round(value))) if isinstance(distribution, IntDistribution) else value
    if distribution.step is not None:
        return low + distribution.step * rng.randint(0, round((high - low) / distribution.step))
    return rng.uniform(low, high)


def sample_params(space: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One random point of the space, as `{config key: value}`: the article's `get_random_config`."""
    return {key: sample(parameter, rng) for key, parameter in parse_space(space).items()}



def get_random_config(model: type, seed: int | None = None) -> dict[str, Any]:
    """One random draw from a model class's `search_space`: the seed article's `get_random_config`."""
    return sample_params(model.search_space, random.Random(seed))

def finite_values(distribution: BaseDistribution) -> list[Any] | None:
    """Every value a distribution can take (a choice, a range, an integer interval), or None when it is
    continuous or on a log scale."""
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return list(range(distribution.low, distribution.high + 1, distribution.step))
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        count = round((distribution.high - distribution.low) / distribution.step) + 1
        return [distribution.low + i * distribution.step for i in range(count)]
    return None


def grid_values(parameter: Parameter) -> list[Any]:
    """Every value of a finite parameter, for the grid sampler."""
    values = finite_values(parameter.distribution)
    if values is None:
        raise ConfigError(f"{parameter.key}: the grid sampler needs choice(...) or range(...), not a continuous "
                          "interval")
    return values


def format_value(value: Any) -> str:
    """A Python value written in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def as_override(key: str, value: Any) -> str:
    return f"{key}={format_value(value)}"
