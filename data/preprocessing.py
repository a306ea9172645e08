"""How raw examples become a model's inputs, and its outputs raw targets again: configuration as data.

`dataset.normalize` picks the feature transform: `scale` divides by `dataset.scale`, `standardize`
subtracts the train split's per-feature mean and divides by its standard deviation (both measured
by `data.prepare` on the train split only and kept in the manifest), `none` passes values through.
Regression targets are learnt standardised and given back in raw units by the model itself.

A run keeps its `Preprocessing` in `<run>/preprocessing.json`, so evaluate, infer and export apply
exactly what training applied, even where the prepared data is not at hand; the exported
SavedModel bakes it in and takes raw inputs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from conf.errors import UserError

MAX_VALUES = 1 << 22  # per-feature statistics of at most 4M values (a 1024x1024x4 image)


@dataclass(frozen=True)
class Preprocessing:
    normalize: str  # scale | standardize | none
    scale: float
    feature_mean: list[float] | None = None  # standardize: per flattened feature, from the train split
    feature_std: list[float] | None = None
    target_mean: list[float] | None = None  # regression: per output, from the train split
    target_std: list[float] | None = None

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], dataset: Any) -> Preprocessing:
        stats = manifest.get("stats", {})
        standardize = dataset.normalize == "standardize"
        regression = dataset.task == "regression"
        return cls(str(dataset.normalize), float(dataset.scale),
                   *((stats.get("feature_mean"), stats.get("feature_std")) if standardize else (None, None)),
                   *((stats.get("target_mean"), stats.get("target_std")) if regression else (None, None)))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str, features: int, outputs: int) -> Preprocessing:
        """Read a run's record as untrusted data: known keys, finite numbers, lengths that fit the model."""
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__) or \
                data.get("normalize") not in ("scale", "standardize", "none"):
            raise UserError(f"{where} is not a preprocessing record written by training")
        values = {}
        for key, length in (("feature_mean", features), ("feature_std", features), ("target_mean", outputs),
                            ("target_std", outputs)):
            value = data.get(key)
            if value is not None and not (isinstance(value, list) and len(value) == length <= MAX_VALUES and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
                raise UserError(f"{where}: {key} must be {length} finite numbers")
            values[key] = value
        scale = data.get("scale")
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0 or not math.isfinite(scale):
            raise UserError(f"{where}: scale must be a positive number")
        if data["normalize"] == "standardize" and values["feature_mean"] is None:
            raise UserError(f"{where}: standardize needs feature_mean and feature_std")
        return cls(data["normalize"], float(scale), **values)

    def feature_transform(self) -> tuple[np.ndarray, np.ndarray]:
        """(shift, divisor), flattened per feature or scalar: inputs become (x - shift) / divisor."""
        if self.normalize == "standardize":
            std = np.asarray(self.feature_std, dtype="float32")
            return np.asarray(self.feature_mean, dtype="float32"), np.where(std > 1e-7, std, 1.0).astype("float32")
        divisor = self.scale if self.normalize == "scale" else 1.0
        return np.zeros((), "float32"), np.full((), divisor, "float32")

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Normalise a batch of raw examples with numpy (infer)."""
        shift, divisor = self.feature_transform()
        flat = np.asarray(x, dtype="float32").reshape(len(x), -1)
        return ((flat - shift) / divisor).reshape(np.shape(x)).astype("float32")


class RunningMoments:
    """Per-feature mean and standard deviation over chunks (float64 sums: one pass, constant memory)."""

    def __init__(self) -> None:
        self.count, self.total, self.squares = 0, None, None

    def add(self, values: np.ndarray) -> None:
        flat = np.asarray(values, dtype="float64").reshape(len(values), -1)
        if self.total is None:
            self.total, self.squares = np.zeros(flat.shape[1]), np.zeros(flat.shape[1])
        self.count += len(flat)
        self.total += flat.sum(axis=0)
        self.squares += (flat * flat).sum(axis=0)

    def result(self) -> tuple[list[float], list[float]]:
        mean = self.total / max(self.count, 1)
        variance = np.maximum(self.squares / max(self.count, 1) - mean * mean, 0.0)
        return [float(v) for v in mean], [float(v) for v in np.sqrt(variance)]
