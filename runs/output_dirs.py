"""The resolvers `conf/config.yaml` uses to name a job's output folder; `main.py` registers them.

    hydra.run.dir: ${unique_dir:${stage_output_dir:...}}

A fresh training run gets `results/<model>/<dataset>/<time>`; a stage that acts on an earlier run
(`run=...`) writes into that run's folder, `<run>/<stage>/<time>`, so its results sit next to what
they came from and never overwrite anything; a branch (`run=... checkpoint=...` with stage=train)
is a new run of the parent's model and dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from conf.errors import UserError
from runs.folder import find_run, run_choices
from runs.untrusted import contained

# What resuming in place writes into the run folder itself.
RESUMED_FILES = (".hydra", "checkpoints", "history.csv", "train", "validation", "metrics.json", "run.json",
                 "model_summary.txt", "preprocessing.json")

def unique_dir(path: str) -> str:
    """`path`, or `path_1`, `path_2`, ...: the first that does not exist yet, created at once.

    Creating it claims it, so two runs started in the same second never share a folder. The
    resolver is registered with a cache, so a job resolves (and creates) it once.
    """
    candidate, suffix = path, 0
    while True:
        try:
            os.makedirs(candidate)
            return candidate
        except FileExistsError:
            suffix += 1
            candidate = f"{path}_{suffix}"


def stage_output_dir(stage: str, run: str | None, checkpoint: str | None, results_dir: str, model: str,
                     dataset: str, now: str) -> str:
    """Where a job of `stage` writes (see the module docstring)."""
    if run is None:
        if stage != "train":
            raise UserError(f"stage={stage} acts on a trained run: add run=<run folder> or run=latest")
        return str(Path(results_dir) / model / dataset / now)
    run_dir = find_run(run, results_dir, model, dataset)
    if stage == "train" and checkpoint is not None:
        parent_model, parent_dataset = run_choices(run_dir)
        return str(Path(results_dir) / parent_model / parent_dataset / now)
    folder = "resume" if stage == "train" else stage
    # a job writes into the run: nothing it writes to may lead out of it
    contained(run_dir, folder, *(RESUMED_FILES if stage == "train" else ()))
    return str(run_dir / folder / now)


def register_resolvers() -> None:
    for name, function in (("unique_dir", unique_dir), ("stage_output_dir", stage_output_dir)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function, use_cache=True)
