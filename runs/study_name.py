"""The default name of a sweep's study, when `hydra.sweeper.study_name` is null (conf/hydra/sweeper/optuna.yaml).

A plain function of the app's config choices, with no resolver of its own: Hydra's submitit launcher pickles
every registered OmegaConf resolver for the jobs it sends to other machines, where a resolver defined in this
project could not be imported by an app outside it. The sweeper names its study with it, and main.py's
`sweep_dir` resolver its folder, so the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def default_study_name(choices: Mapping[str, Any], job_name: str | None) -> str:
    """`<model>_<dataset>` in an app that has both config groups (main.py: `mlp_digits`, hence
    `results/sweeps/mlp_digits`), else the app's own name (`sphere` for sphere.py): it works in any Hydra app."""
    model, dataset = choices.get("model"), choices.get("dataset")
    if model and dataset:
        return f"{model}_{dataset}"
    return str(job_name or "study")
