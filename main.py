"""The single entry point: `python main.py model=mlp dataset=digits stage=train` (see README.md).

Hydra composes `conf/config.yaml` with the chosen `model`, `dataset`, `optimizer`, `trainer` and
`stage` groups and the shell's overrides; `conf.schema.ValidateConfig` checks the result before
anything runs; `main` dispatches to the stage and returns `optimized_metric` for a sweeper.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import hydra
from omegaconf import DictConfig

from conf.errors import one_line_error
from conf.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Run the configured stage; return the metric named by `optimized_metric`."""
    from models.stages import STAGES  # imports TensorFlow, so only once the config is known good

    metrics = STAGES[cfg.stage.name](cfg)
    return float(metrics[cfg.optimized_metric])


def run_reporting_user_errors() -> int:
    """Call `main`; a mistake in the user's input becomes one line on stderr and exit status 2.

    Hydra's own reporting spreads such errors over several lines, so it is told to let them
    through (HYDRA_FULL_ERROR); a user who set that variable still gets full tracebacks.
    """
    wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as error:
        message = None if wants_traceback else one_line_error(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_reporting_user_errors())
