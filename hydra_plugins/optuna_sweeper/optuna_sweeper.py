"""Hydra loads plugin classes only from the `hydra_plugins` namespace; the sweeper lives in `hpsearch/`.

Its configs (the sweeper, samplers, pruners) are YAML files in `conf/hydra/sweeper/`; an app
outside this project finds them with `hydra.searchpath=[file://<this project>/conf]`.

Hydra imports every module of `hydra_plugins` on each command to list its plugins, so this one
imports nothing heavy: `hpsearch.sweeper` and Optuna (about 0.2 s of every `python main.py`,
a refused command included) are imported when a sweep creates its sweeper.
"""

from hydra.plugins.sweeper import Sweeper


class OptunaSweeper(Sweeper):
    """The name Hydra accepts (`hydra/sweeper=optuna`, `_target_` of `conf/hydra/sweeper/optuna.yaml`);
    creating it creates an `hpsearch.sweeper.OptunaSweeper`, the class that does the work."""

    def __new__(cls, *args, **kwargs):
        from hpsearch import sweeper

        return sweeper.OptunaSweeper(*args, **kwargs)


# Hydra lists concrete classes only; `setup` and `sweep` are those of the sweeper `__new__` creates
OptunaSweeper.__abstractmethods__ = frozenset()
