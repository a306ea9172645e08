"""Waves of different lengths: a variable-length numeric sequence dataset, generated from a seed, that needs
no download.

Each example is a sine, square, triangle or sawtooth wave of random frequency, phase and amplitude, between
`min_length` and `max_length` steps long, with Gaussian noise of `noise`; its two channels are the wave and
the same wave a quarter period later. Classification (the default) tells the four shapes apart; with
`dataset.task=regression` the target is the frequency in cycles per 100 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conf.schema import DatasetConfig, require
from data.sources import Source, from_arrays

SHAPES = ("sine", "square", "triangle", "sawtooth")


@dataclass
class WavesConfig(DatasetConfig):
    num_samples: int = 2000
    min_length: int = 20
    max_length_generated: int = 120
    noise: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(40 <= self.num_samples <= 10_000_000, "dataset.num_samples", self.num_samples,
                "must be in [40, 10000000]")
        require(2 <= self.min_length <= self.max_length_generated <= 100_000, "dataset.min_length", self.min_length,
                "2 <= dataset.min_length <= dataset.max_length_generated <= 100000")
        require(self.noise >= 0, "dataset.noise", self.noise, "must be >= 0")
        require(list(self.input_shape) == [None, 2], "dataset.input_shape", list(self.input_shape),
                "waves are sequences of two channels: [null, 2]")


def wave(shape: int, phase: np.ndarray) -> np.ndarray:
    """One period-1 wave of each shape at `phase` (in cycles)."""
    cycle = phase % 1.0
    if shape == 0:
        return np.sin(2 * np.pi * phase)
    if shape == 1:
        return np.where(cycle < 0.5, 1.0, -1.0)
    if shape == 2:
        return 4 * np.abs(cycle - 0.5) - 1
    return 2 * cycle - 1


def generate(cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    x = np.empty(cfg.num_samples, dtype=object)
    shapes, frequencies = rng.integers(len(SHAPES), size=cfg.num_samples), rng.uniform(2, 10, cfg.num_samples)
    for index in range(cfg.num_samples):
        steps = int(rng.integers(cfg.min_length, cfg.max_length_generated + 1))
        phase = rng.random() + np.arange(steps) * frequencies[index] / 100
        amplitude = rng.uniform(0.5, 2.0)
        values = np.stack([wave(shapes[index], phase), wave(shapes[index], phase + 0.25)], axis=1) * amplitude
        x[index] = (values + rng.normal(0, cfg.noise, values.shape)).astype("float32")
    return x, shapes.astype("int64"), frequencies.astype("float32").reshape(-1, 1)


def load_waves(cfg, files):
    x, shapes, frequencies = generate(cfg)
    return {"all": from_arrays(x, frequencies if cfg.task == "regression" else shapes)}


SOURCE = Source(load_waves, schema=WavesConfig, parametric=True, class_names_of=lambda cfg: (
    ["frequency"] if cfg.task == "regression" else list(SHAPES)),
    size_of=lambda cfg: (cfg.num_samples, 8 * cfg.max_length_generated + 32))
