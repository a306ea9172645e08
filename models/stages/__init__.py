"""What each `stage=` does: a function that takes the composed config and returns the job's metrics.

`main.py` dispatches on `stage.name` through STAGES; importing this package imports TensorFlow.
"""

from models.stages.evaluate import evaluate
from models.stages.export import export
from models.stages.infer import infer
from models.stages.train import train

STAGES = {"train": train, "evaluate": evaluate, "infer": infer, "export": export}
