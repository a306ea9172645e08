"""The helper functions of the published hydra-optuna-sweeper (1.3) that user code imports, under their names
and signatures, each a call into this project's search space code (`hpsearch.search_space`):

    from hpsearch.compat import create_params_from_overrides, Direction
    distributions, fixed = create_params_from_overrides(["x=interval(0, 1)", "y=3"])

They return Optuna 5 distributions (`FloatDistribution`, `IntDistribution`, `CategoricalDistribution`) where the
published ones return Optuna 2's, and `range(start, stop)` excludes `stop`, as everywhere in this project (README,
"Coming from hydra-optuna-sweeper").
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from optuna.distributions import BaseDistribution

from hpsearch.search_space import legacy_parameter, to_parameter


class Direction(Enum):
    """`hydra.sweeper.direction`'s values, as the published plugin's `config.Direction`."""

    minimize = 1
    maximize = 2


def create_optuna_distribution_from_config(config: Mapping[str, Any]) -> BaseDistribution:
    """One entry of the old `hydra.sweeper.search_space` form (`{type: float, low: 0, high: 1}`)."""
    config = dict(config)
    kind = config.get("type")
    if isinstance(kind, Enum):  # the published DistributionType
        config["type"] = kind.name
    return legacy_parameter(str(config.get("name", "param")), config).distribution


def create_optuna_distribution_from_override(override: Override) -> Any:
    """A parsed override's distribution when it is a sweep (`x=choice(1, 2)`), else its value as a string."""
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    return to_parameter(override.get_key_element(), override.value()).distribution


def create_params_from_overrides(arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, Any]]:
    """Overrides as `(distributions of the swept keys, values of the fixed ones)`."""
    distributions, fixed = {}, {}
    for override in OverridesParser.create().parse_overrides(arguments):
        value = create_optuna_distribution_from_override(override)
        if isinstance(value, BaseDistribution):
            distributions[override.get_key_element()] = value
        else:
            fixed[override.get_key_element()] = value
    return distributions, fixed
