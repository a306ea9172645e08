"""Hydra loads plugin classes only from the `hydra_plugins` namespace; the sweeper lives in `hpsearch/`.

Its configs (the sweeper, samplers, pruners) are YAML files in `conf/hydra/sweeper/`; an app
outside this project finds them with `hydra.searchpath=[file://<this project>/conf]`.
"""

from hpsearch import sweeper


class OptunaSweeper(sweeper.OptunaSweeper):
    """`hpsearch.sweeper.OptunaSweeper` under the name Hydra accepts (`hydra/sweeper=optuna`)."""
