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

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from conf.errors import UserError, first_line
from models import model_class
from runs.atomic_files import write_text_atomically
from runs.folder import run_choices
from runs.untrusted import contained, read_yaml_data

# What a promoted configuration may set: hyper-parameters, never where a run reads or writes.
PROMOTABLE_GROUPS = ("model", "dataset", "optimizer", "trainer")
ADDRESSING = ("dataset.name", "dataset.path", "dataset.url")


def promote(sweep_dir: Path) -> Path:
    """Write the sweep's best parameters to `conf/best_params/<model>_<dataset>.yaml`; returns that path.

    The sweep folder is read as data from someone else (`runs.untrusted`): the results file is
    bounded and literal, the best trial's folder must lie inside the sweep folder, and only keys of
    the hyper-parameter groups with literal values that the model's and dataset's schemas accept
    are written.
    """
    sweep_dir = Path(sweep_dir)
    results_path = sweep_dir / "optimization_results.yaml"
    if not results_path.is_file():
        raise UserError(f"{sweep_dir} is not a sweep folder: it has no optimization_results.yaml")
    contained(sweep_dir, results_path.name)
    results = read_yaml_data(results_path)
    if not isinstance(results, dict) or "best_params" not in results:
        raise UserError(f"{results_path} has no best trial (no complete trial, or a multi-objective study)")
    best_params, trial, value = results.get("best_params"), results.get("best_trial"), results.get("best_value")
    if not isinstance(best_params, dict) or not best_params or not isinstance(trial, int) or isinstance(
            trial, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{results_path}: best_params, best_trial and best_value are not as a sweep writes them")
    searched = results.get("searched_keys")
    if isinstance(searched, list) and not set(best_params) <= set(searched):
        raise UserError(f"{results_path}: best_params holds keys that were not searched: "
                        f"{', '.join(sorted(set(best_params) - set(searched)))}")
    contained(sweep_dir, str(trial))
    model, dataset = run_choices(sweep_dir / str(trial))
    checked_best_params(best_params, model, dataset, results_path)
    path = model_class(model).best_config_path(dataset)
    def one_line(text: object) -> str:  # names from the folder go into a YAML comment
        return " ".join(str(text).split())

    study, direction = one_line(results.get("study_name", "?")), one_line((results.get("directions") or ["?"])[0])
    header = (f"# Best hyper-parameters of model={model} on dataset={dataset}, applied by best=true.\n"
              f"# Written by `python -m hpsearch.promote {one_line(sweep_dir)}`: trial {trial} of study "
              f"{study}, objective {value:.6g} ({direction}).\n")
    write_text_atomically(path, header + yaml.safe_dump(best_params, sort_keys=True))
    return path


def checked_best_params(best_params: dict, model: str, dataset: str, source: Path) -> None:
    """Refuse keys outside the hyper-parameter groups and values the model's and dataset's schemas reject."""
    from hydra import compose, initialize_config_dir

    from conf import CONF_DIR
    from conf.schema import validate_config

    for key, value in best_params.items():
        if not isinstance(key, str) or key.split(".")[0] not in PROMOTABLE_GROUPS or key in ADDRESSING or "." not in key:
            raise UserError(f"{source}: best_params key {key!r} is not a hyper-parameter; allowed: keys of "
                            f"{', '.join(PROMOTABLE_GROUPS)} (except {', '.join(ADDRESSING)})")
        literal = (bool, int, float, str, type(None))
        if not isinstance(value, literal) and not (isinstance(value, list) and all(isinstance(v, literal) for v in value)):
            raise UserError(f"{source}: best_params.{key} is not a literal value or a list of them")
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[f"model={model}", f"dataset={dataset}"])
        for key, value in best_params.items():
            if OmegaConf.select(cfg, key, default=MISSING_KEY) is MISSING_KEY:
                raise UserError(f"best_params key {key!r} is not in the config of model={model} dataset={dataset}")
            OmegaConf.update(cfg, key, value, merge=False)
        validate_config(cfg)
    except UserError as error:
        raise UserError(f"{source}: {error}") from None
    except Exception as error:  # the schemas' type checks (OmegaConf's ValidationError), an unknown option
        raise UserError(f"{source}: best_params do not fit model={model} dataset={dataset}: "
                        f"{first_line(error)}") from None


MISSING_KEY = object()


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
    applied = {key: value for key, value in best.items() if key not in from_command_line}
    for key, value in applied.items():
        OmegaConf.update(cfg, key, value, merge=False)
    # the run records the values themselves: its replay command and config give the same run after a later
    # promote rewrites the file (runs.record writes them into run.json's command in place of best=true)
    cfg.best, cfg.applied_best = False, applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpsearch.promote", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder, e.g. results/sweeps/mlp_digits")
    args = parser.parse_args(argv)
    try:
        import data.sources  # noqa: F401 -- registers the dataset schemas the check composes with
        from conf.schema import register_configs

        register_configs()
        path = promote(args.sweep_dir)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
