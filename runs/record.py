"""What a run folder records so that the run can be repeated: config with its seed, command, versions.

Hydra already writes `.hydra/{config,hydra,overrides}.yaml`; this adds `run.json` (the exact
command with the seed that was used, software versions, git commit) and replaces Hydra's
`.hydra/config.yaml` with the config the job really runs: with the seed that `seed=null` drew, and
for a resumed or branched run, the parent's config with the command line's changes.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from conf import PROJECT_ROOT
from runs.atomic_files import write_json_atomically, write_text_atomically

log = logging.getLogger("run")

PACKAGES = ("tensorflow", "keras", "numpy", "hydra-core", "omegaconf", "optuna", "scikit-learn")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def git_state() -> dict[str, str | bool | None]:
    """The commit the code came from and whether it had uncommitted changes (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    status = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def fix_seed(cfg: DictConfig) -> int:
    """`seed: null` draws one, which the run's records then carry like a seed that was given."""
    if cfg.seed is None:
        with open_dict(cfg):
            cfg.seed = random.SystemRandom().randrange(2**32)
    return cfg.seed


def start_run(cfg: DictConfig) -> Path:
    """Record the job's config (its seed fixed) and how to repeat it, print the config; returns the job folder."""
    from rich.console import Console

    hydra = HydraConfig.get()
    run_dir = Path(hydra.runtime.output_dir)
    fix_seed(cfg)
    record_run(run_dir, cfg, list(hydra.overrides.task), hydra.output_subdir)
    Console(stderr=True).print(config_tree(cfg))
    log.info("job folder: %s", run_dir)
    return run_dir


def record_run(run_dir: Path, cfg: DictConfig, task_overrides: list[str], output_subdir: str | None = ".hydra") -> None:
    """`<output_subdir>/config.yaml` resolved and `run.json` in `run_dir`: also a run started again in place
    after it was killed before it recorded itself (its own folder, not the job's)."""
    if output_subdir is not None:
        # resolved: a run folder's config is literal data (`runs.untrusted` refuses interpolations)
        write_text_atomically(run_dir / output_subdir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    overrides = [o for o in task_overrides if not o.startswith("seed=")] + [f"seed={cfg.seed}"]
    if cfg.get("applied_best"):  # best=true: the values it applied, not a file that a later promote rewrites
        overrides = [o for o in overrides if o.lstrip("+~").split("=")[0] != "best"] + [
            f"{key}={json.dumps(value)}" for key, value in OmegaConf.to_container(cfg.applied_best).items()]
    write_json_atomically(run_dir / "run.json", {
        "command": shlex.join(["python", "main.py", *overrides]),
        "seed": cfg.seed,
        "experiment": cfg.get("experiment"),
        "versions": package_versions(),
        "git": git_state(),
        "host": platform.node(),
        "argv": sys.argv,
    })


def config_tree(cfg: DictConfig):
    """The config as a rich Tree, one branch per group, for the console at the start of a run."""
    from rich.markup import escape
    from rich.tree import Tree

    def add(branch: Tree, node: dict) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                add(branch.add(f"[bold]{key}[/bold]"), value)
            else:
                branch.add(f"{key}: [cyan]{escape(repr(value) if isinstance(value, str) else str(value))}[/cyan]")

    tree = Tree("[bold]config[/bold]")
    add(tree, OmegaConf.to_container(cfg, resolve=True))
    return tree


# keys that say where a run reads and writes, not what it is: left out of the parameters trackers show
ADDRESSING = ("run", "checkpoint", "input", "data_dir", "results_dir", "trial", "logger", "applied_best")


def flat_params(config: DictConfig) -> dict[str, Any]:
    """The run's settings flattened to `group.key`, as experiment trackers show them (MLflow's parameters,
    W&B's config), without the keys that only say where the run reads and writes."""
    plain = {key: value for key, value in OmegaConf.to_container(config, resolve=True).items()
             if key not in ADDRESSING}

    def flat(data, prefix=""):
        for key, value in data.items():
            if isinstance(value, dict):
                yield from flat(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    return dict(flat(plain))


def tracking_name(config: DictConfig) -> str:
    """What a tracker files a run under when nothing names it: the experiment, else `<model>_<dataset>`."""
    return config.get("experiment") or f"{config.model._target_.rsplit('.', 1)[-1].lower()}_{config.dataset.name}"
