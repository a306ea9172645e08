"""Where each dataset's raw arrays come from: one function per dataset name, none needs a network.

A source returns all examples as `(x, y)`: x of any numeric dtype, shaped `(n, ...)` as the data
comes, and y integer class labels. Splitting and writing to disk is `data.prepare`'s job; the
pipeline reshapes examples to `dataset.input_shape`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from omegaconf import DictConfig



def load_digits(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits: 1,797 images, values 0-16, 10 classes."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return digits.images.astype("uint8"), digits.target.astype("int64")


def make_synthetic(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters: one random prototype per class, examples are prototype + noise * N(0, 1).

    Any size and shape, the same arrays for the same parameters: for tests and benchmarks.
    """
    rng = np.random.default_rng(cfg.seed)
    features = int(np.prod(cfg.input_shape))
    prototypes = rng.normal(size=(cfg.num_classes, features))
    y = rng.permutation(np.arange(cfg.num_samples) % cfg.num_classes)
    x = prototypes[y] + cfg.noise * rng.normal(size=(cfg.num_samples, features))
    return x.astype("float32"), y.astype("int64")


SOURCES: dict[str, Callable[[DictConfig], tuple[np.ndarray, np.ndarray]]] = {
    "digits": load_digits,
    "synthetic": make_synthetic,
}
