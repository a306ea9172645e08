"""Hydra loads plugin classes only from the `hydra_plugins` namespace; the sweeper lives in `hpsearch/`."""

from hpsearch import sweeper


class OptunaSweeper(sweeper.OptunaSweeper):
    """`hpsearch.sweeper.OptunaSweeper` under the name Hydra accepts (`hydra/sweeper=optuna`)."""
