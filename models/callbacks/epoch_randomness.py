"""Random draws inside the network (dropout masks) as a pure function of the run's seed and the epoch.

Keras does not save the state of a layer's random seed generator in a checkpoint, so a model
restored at epoch k would draw other dropout masks than the run that went on uninterrupted. This
callback sets every seed generator, at the start of each epoch, to its initial seed and a counter
derived from the epoch alone; a resumed run then repeats exactly the epochs it replays.
"""

from __future__ import annotations

import keras
import numpy as np

DRAWS_PER_EPOCH = 2**32  # counter space of one epoch: one draw per layer call, so 4 billion steps


class EpochRandomness(keras.callbacks.Callback):
    """Reset each seed generator's state to (initial seed, epoch * DRAWS_PER_EPOCH) before each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.initial_seeds: dict[str, np.ndarray] = {}

    def _seed_states(self) -> list:
        return [v for v in self.model.variables if v.path.endswith("seed_generator_state")]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.initial_seeds = {v.path: keras.ops.convert_to_numpy(v)[0] for v in self._seed_states()}

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for state in self._seed_states():
            state.assign(np.array([self.initial_seeds[state.path], epoch * DRAWS_PER_EPOCH], dtype=state.dtype))
