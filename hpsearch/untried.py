"""No trial wasted on a repeat: while a finite search space still has combinations no trial has tried, a new
trial does not get one that a trial already ran (or is running).

Why: a sampler draws each parameter on its own, so in a small space repeats are likely (three trials over a
3-value choice try all three values only 2 times in 9 at random), and TPE, once it models the study, proposes
its best value again. A repeat costs a whole trial and tells the study nothing new when runs repeat exactly.

How: `UntriedFirst` wraps the configured sampler and draws the whole space at the start of each trial (Optuna's
relative sampling), asking the wrapped sampler for its proposal as Optuna would. A proposal that repeats a
counted trial is drawn again, up to `ATTEMPTS` times; then one of the untried combinations is taken at random
(seeded by the sweep's seed and the trial number). Once every combination has been tried, and for spaces with a
continuous parameter (where a repeat has probability zero), the wrapped sampler's proposal stands as it is.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from hpsearch.search_space import finite_values

ATTEMPTS = 8  # proposals asked of the wrapped sampler before an untried combination is chosen for it
LISTED = 100_000  # spaces up to this many combinations are listed to find the untried ones; larger ones only re-draw


def rounded(value: Any) -> Any:
    """A value as a set member: a stepped float to 12 digits (low + i * step is not exact)."""
    return round(value, 12) if isinstance(value, float) else value


class UntriedFirst(optuna.samplers.BaseSampler):
    """`inner`, except that a trial's draw of `space` never repeats a counted trial's while untried ones remain.

    `counted(trial)` says whether a trial took part (not one abandoned by a dead sweep, nor a surplus one).
    """

    def __init__(self, inner: optuna.samplers.BaseSampler, space: dict[str, BaseDistribution], seed: int | None,
                 counted: Callable[[FrozenTrial], bool]) -> None:
        self.inner, self.space, self.seed, self.counted = inner, dict(space), seed, counted
        values = {key: finite_values(d) for key, d in self.space.items()}
        self.values = values if self.space and all(v is not None for v in values.values()) else None
        self.size = math.prod(len(v) for v in values.values()) if self.values else 0
        # every combination of a listed space, as a set member (`key`) -> the space's own values
        self.combinations: dict[tuple, tuple] = {} if not self.values or self.size > LISTED else {
            self.key(dict(zip(self.space, combination, strict=True))): combination
            for combination in itertools.product(*self.values.values())}

    def __str__(self) -> str:
        return str(self.inner)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if self.values is None or trial.system_attrs.get("fixed_params"):  # continuous, or a queued re-run
            return self.inner.infer_relative_search_space(study, trial)
        return dict(self.space)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
                        ) -> dict[str, Any]:
        if self.values is None or search_space != self.space:
            return self.inner.sample_relative(study, trial, search_space)
        tried = {self.key(t.params) for t in study.get_trials(deepcopy=False)
                 if t.number != trial.number and self.counted(t) and set(self.space) <= set(t.params)}
        if self.combinations:  # a resumed study's trials of an older, other space do not fill this one
            tried &= self.combinations.keys()
        proposal = self.propose(study, trial)
        for _ in range(ATTEMPTS):
            if self.key(proposal) not in tried or len(tried) >= self.size:
                return proposal
            proposal = self.propose(study, trial)
        if self.size > LISTED:
            return proposal
        untried = sorted(self.combinations.keys() - tried, key=repr)
        if not untried:
            return proposal
        chosen = random.Random(f"{self.seed}:{trial.number}").choice(untried)
        return dict(zip(self.space, self.combinations[chosen], strict=True))

    def propose(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        """What the wrapped sampler would give this trial: its relative draw, the rest drawn one by one."""
        relative_space = self.inner.infer_relative_search_space(study, trial)
        relative_space = {key: d for key, d in relative_space.items() if self.space.get(key) == d}
        proposal = dict(self.inner.sample_relative(study, trial, relative_space)) if relative_space else {}
        for key, distribution in self.space.items():
            if key not in proposal:
                proposal[key] = self.inner.sample_independent(study, trial, key, distribution)
        return proposal

    def key(self, params: dict[str, Any]) -> tuple:
        """A combination as a set member (its values `rounded`)."""
        return tuple(rounded(params.get(key)) for key in self.space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: Any, values: Any) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()
