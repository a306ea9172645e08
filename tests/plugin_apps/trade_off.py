"""Two objectives that pull apart: the cost grows with the effort x + y, the error shrinks with it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base=None, config_path="trade_off_conf", config_name="config")
def trade_off(cfg: DictConfig) -> tuple[float, float]:
    effort = cfg.x + 2 * cfg.y
    return effort, 10 / (1 + effort)


if __name__ == "__main__":
    trade_off()
