"""What each `stage=` does: a function that takes the composed config and returns the run's metrics.

`main.py` dispatches on `stage.name` through STAGES; importing this package imports TensorFlow.
"""

from models.stages.train import train

STAGES = {"train": train}
