"""What each `stage=` does: a function that takes the composed config and returns the job's metrics.

`main.py` dispatches on `stage.name` through STAGES; importing this package imports TensorFlow.
A stage imports the run-folder modules of `runs/`, `models/`, `data/` and `conf/`.
"""

from runs.stages.evaluate import evaluate
from runs.stages.export import export
from runs.stages.infer import infer
from runs.stages.train import train

STAGES = {"train": train, "evaluate": evaluate, "infer": infer, "export": export}
