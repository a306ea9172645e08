"""A cheap objective for the sweeper's tests: no TensorFlow, milliseconds a trial.

Minimises (x - 2)^2 (+ x^2 as a second objective when `objectives=2`), and can be told to fail,
return NaN, take its time (longer for larger k if asked), record its process id, to exercise every path of hpsearch/sweeper.py.
"""

import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project: hpsearch/, hydra_plugins/

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base="1.3", config_path=".", config_name="config")
def objective(cfg: DictConfig):
    if cfg.fail_above is not None and cfg.x > cfg.fail_above:
        raise RuntimeError(f"x={cfg.x} is too large")
    if cfg.nan_above is not None and cfg.x > cfg.nan_above:
        return math.nan
    if cfg.record_pid:  # so a test can check this process does not outlive a killed sweep
        Path(HydraConfig.get().runtime.output_dir, "pid").write_text(str(os.getpid()))
    time.sleep(cfg.sleep * (1 + cfg.k) ** 2 if cfg.sleep_grows_with_k else cfg.sleep)
    loss = (cfg.x - 2) ** 2 + 0.1 * cfg.k
    return [loss, cfg.x**2] if cfg.objectives == 2 else loss


if __name__ == "__main__":
    objective()
