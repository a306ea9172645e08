"""An app with no config file and no config groups: what it is given on the command line is all it has."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base=None, config_path=None, config_name=None)
def bare(cfg: DictConfig) -> float:
    return float(cfg.get("x", 0.0)) ** 2 + float(cfg.get("y", 0.0)) ** 2


if __name__ == "__main__":
    bare()
