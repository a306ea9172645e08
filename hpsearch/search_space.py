"""Search spaces written in Hydra's sweep grammar, and random draws from them.

A space maps a config key to a sweep expression, exactly as it would be typed on the command line:
`choice(a, b)`, `range(start, stop, step)` (stop excluded, as in Python), `interval(low, high)`,
and `tag(log, interval(low, high))` for a log-uniform draw. Integer bounds give integers.
"""

from __future__ import annotations

import math
import random
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

from conf.errors import ConfigError


def parse_space(space: dict[str, str]) -> dict[str, ChoiceSweep | RangeSweep | IntervalSweep]:
    """Parse each `key: expression` into Hydra's sweep object; a plain value is a choice of one."""
    parser = OverridesParser.create()
    parsed = {}
    for key, expression in space.items():
        override = parser.parse_override(f"{key}={expression}")
        value = override.value()
        if not isinstance(value, (ChoiceSweep, RangeSweep, IntervalSweep)):
            value = ChoiceSweep(list=[value])
        parsed[key] = value
    return parsed


def sample_value(sweep: ChoiceSweep | RangeSweep | IntervalSweep, rng: random.Random) -> Any:
    if isinstance(sweep, ChoiceSweep):
        return rng.choice(list(sweep.list))
    if isinstance(sweep, RangeSweep):
        values = list(range(int(sweep.start), int(sweep.stop), int(sweep.step))) if all(
            float(v).is_integer() for v in (sweep.start, sweep.stop, sweep.step)) else None
        if values is None:
            count = math.ceil((sweep.stop - sweep.start) / sweep.step)
            values = [sweep.start + i * sweep.step for i in range(count)]
        if not values:
            raise ConfigError(f"range({sweep.start}, {sweep.stop}, {sweep.step}) is empty")
        return rng.choice(values)
    low, high = sweep.start, sweep.end
    if "log" in sweep.tags:
        if low <= 0:
            raise ConfigError(f"tag(log, interval({low}, {high})): a log interval needs low > 0")
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    if isinstance(low, int) and isinstance(high, int):
        return min(high, max(low, round(value)))
    return value


def sample_params(space: dict[str, str], rng: random.Random) -> dict[str, Any]:
    """One random point of the space, as `{config key: value}` ready to apply as overrides."""
    return {key: sample_value(sweep, rng) for key, sweep in parse_space(space).items()}
