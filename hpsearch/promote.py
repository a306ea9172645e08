"""The seed article's `best` configuration: promote a sweep's best trial, apply it with `best=true`.

    python -m hpsearch.promote results/sweeps/mlp_digits     # writes conf/best_params/mlp_digits.yaml
    python main.py model=mlp dataset=digits best=true         # trains with it

The file holds `{config key: value}` for the searched keys. `best=true` applies it over the
model's defaults; any key also given on the command line keeps the command line's value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from conf.errors import UserError
from models import model_class
from runs.atomic_files import write_text_atomically
from runs.folder import run_choices


def promote(sweep_dir: Path) -> Path:
    """Write the sweep's best parameters to `conf/best_params/<model>_<dataset>.yaml`; returns that path."""
    results_path = Path(sweep_dir) / "optimization_results.yaml"
    if not results_path.is_file():
        raise UserError(f"{sweep_dir} is not a sweep folder: it has no optimization_results.yaml")
    results = OmegaConf.load(results_path)
    if "best_params" not in results:
        raise UserError(f"{results_path} has no best trial (no complete trial, or a multi-objective study)")
    best_folder = Path(results.best_folder)
    if not best_folder.is_absolute() and not best_folder.exists():
        best_folder = Path(sweep_dir) / best_folder.name
    model, dataset = run_choices(best_folder)
    path = model_class(model).best_config_path(dataset)
    header = (f"# Best hyper-parameters of model={model} on dataset={dataset}, applied by best=true.\n"
              f"# Written by `python -m hpsearch.promote {sweep_dir}`: trial {results.best_trial} of study "
              f"{results.study_name}, objective {results.best_value:.6g} ({results.directions[0]}).\n")
    write_text_atomically(path, header + OmegaConf.to_yaml(results.best_params))
    return path


def apply_best(cfg: DictConfig) -> None:
    """Set the best known values of the chosen model on the chosen dataset, except keys the
    command line sets; UserError when no best configuration exists yet."""
    choices = HydraConfig.get().runtime.choices
    cls = model_class(choices.model)
    best = cls.best_config(choices.dataset)
    if best is None:
        raise UserError(f"best=true: no best configuration for model={choices.model} on dataset={choices.dataset} "
                        f"({cls.best_config_path(choices.dataset)}); run a search (python main.py -m "
                        f"hpsearch={choices.model}) and promote it (python -m hpsearch.promote <sweep folder>)")
    from_command_line = {o.key_or_group for o in OverridesParser.create().parse_overrides(
        list(HydraConfig.get().overrides.task))}
    for key, value in best.items():
        if key not in from_command_line:
            OmegaConf.update(cfg, key, value, merge=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpsearch.promote", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder, e.g. results/sweeps/mlp_digits")
    args = parser.parse_args(argv)
    try:
        path = promote(args.sweep_dir)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
