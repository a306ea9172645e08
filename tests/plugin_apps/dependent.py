"""A `custom_search_space` function: `width` is searched within `window` of the drawn `x`, and `+bonus` adds a
key the config does not have (the `+` of an override, kept in the parameter's name)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from optuna.trial import Trial  # noqa: E402


@hydra.main(version_base=None, config_path="dependent_conf", config_name="config")
def dependent(cfg: DictConfig) -> float:
    return (cfg.x - cfg.width) ** 2 + cfg.bonus + abs(cfg.y)


def suggest_more(cfg: DictConfig, trial: Trial) -> None:
    x = trial.params["x"]
    trial.suggest_float("width", x - cfg.window, x + cfg.window)
    trial.suggest_float("+bonus", 0.0, 2.0)


if __name__ == "__main__":
    dependent()
