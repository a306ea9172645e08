"""A bowl with its bottom at x = 1, y = -2 (value 0), for sweeps that must find it; `fail=true` raises."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, where the plugin is found

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base=None, config_path="conf", config_name="config")
def paraboloid(cfg: DictConfig) -> float:
    if cfg.get("fail", False):
        raise RuntimeError("the app was told to fail")
    shift = {"near": 0.0, "far": 3.0}[cfg.get("label", "near")]
    return (cfg.x - 1) ** 2 + (cfg.y + 2) ** 2 + shift


if __name__ == "__main__":
    paraboloid()
