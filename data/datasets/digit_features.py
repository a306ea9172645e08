"""The digits as two inputs and two targets: the 8x8 image and four noisy measurements of its strokes
in, the digit and the amount of ink out. A small, real dataset of named features and targets
(`dataset.features`, `dataset.targets`) that needs no download.

`strokes` is the ink in each quadrant of the image (0 to 1), measured with Gaussian noise of
`noise`; `ink` is the mean pixel value of the image (0 to 16), a regression target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conf.schema import DatasetConfig, require
from data.sources import Source, from_arrays


@dataclass
class DigitFeaturesConfig(DatasetConfig):
    noise: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.noise >= 0, "dataset.noise", self.noise, "must be >= 0")


def load_digit_features(cfg, files):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype("uint8")
    quadrants = images.reshape(-1, 2, 4, 2, 4).sum(axis=(2, 4)).reshape(-1, 4) / (16.0 * 16)
    noise = np.random.default_rng(cfg.seed).normal(0, cfg.noise, quadrants.shape)
    features = {"image": images[..., None], "strokes": (quadrants + noise).astype("float32")}
    targets = {"digit": digits.target.astype("int64"), "ink": images.mean(axis=(1, 2)).astype("float32")[:, None]}
    return {"all": from_arrays(features, targets)}


SOURCE = Source(load_digit_features, schema=DigitFeaturesConfig, parametric=True,
                class_names=tuple(str(i) for i in range(10)))
