"""Random draws inside the network (dropout masks, a VAE's noise) as a pure function of the run's seed and the epoch.

Keras does not save the state of a layer's random seed generator in a checkpoint, so a model
restored at epoch k would draw other dropout masks than the run that went on uninterrupted. This
callback sets every seed generator, at the start of each epoch, to its initial seed and a counter
derived from the epoch alone; a resumed run then repeats exactly the epochs it replays. The same
holds for every `keras.random.SeedGenerator` a model of one's own samples from, wherever it sits in
the network (`network.variables` reaches sub-networks and custom layers).
"""

from __future__ import annotations

import keras
import numpy as np

DRAWS_PER_EPOCH = 2**32  # counter space of one epoch: one draw per layer call, so 4 billion steps


def initial_seeds(network: keras.Model) -> dict[str, int]:
    """`{variable path: seed}` of every `keras.random.SeedGenerator` of the network (dropout's, a VAE sampler's),
    read before it draws."""
    return {v.path: int(keras.ops.convert_to_numpy(v)[0]) for v in network.variables
            if v.path.endswith("seed_generator_state")}


def reset_seed_states(network: keras.Model, initial_seeds: dict[str, int], counter: int) -> None:
    """Set each seed generator of `network` to (its initial seed, `counter`)."""
    for state in network.variables:
        if state.path in initial_seeds:
            state.assign(np.array([initial_seeds[state.path], counter], dtype=state.dtype))


class EpochRandomness(keras.callbacks.Callback):
    """Reset each seed generator's state to (initial seed, epoch * DRAWS_PER_EPOCH) before each epoch.

    Args:
        initial_seeds: `{variable path: seed}` of the network's seed generators as built (`initial_seeds`,
            which the base model reads before any draw).
    """

    def __init__(self, initial_seeds: dict[str, int]) -> None:
        super().__init__()
        self.initial_seeds = initial_seeds

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        reset_seed_states(self.model, self.initial_seeds, epoch * DRAWS_PER_EPOCH)
