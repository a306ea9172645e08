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
    # named features (`dataset.features`): each its own {normalize, scale, feature_mean, feature_std}
    features: dict[str, dict[str, Any]] | None = None
    # named regression targets (`dataset.targets`): each its own {target_mean, target_std}
    targets: dict[str, dict[str, Any]] | None = None
    # text: the tokenizer's settings and the vocabulary fitted on the train split (`data.text`)
    tokenizer: dict[str, Any] | None = None

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], dataset: Any) -> Preprocessing:
        stats = manifest.get("stats", {})
        standardize = dataset.normalize == "standardize"
        regression = dataset.task == "regression"
        named_features, named_targets = _plain(dataset.get("features")), _plain(dataset.get("targets"))
        features = {name: {"normalize": str(feature.get("normalize", dataset.normalize)),
                           "scale": float(feature.get("scale", dataset.scale)),
                           **(stats["features"][name] if feature.get("normalize", dataset.normalize) == "standardize"
                              else {"feature_mean": None, "feature_std": None})}
                    for name, feature in named_features.items()} if named_features else None
        targets = {name: stats["targets"][name] for name, target in named_targets.items()
                   if target["task"] == "regression"} if named_targets else None
        if features is not None:
            return cls(str(dataset.normalize), float(dataset.scale), features=features, targets=targets)
        if dataset.get("tokenizer"):
            return cls("none", 1.0, tokenizer=stats["tokenizer"])
        return cls(str(dataset.normalize), float(dataset.scale),
                   *((stats.get("feature_mean"), stats.get("feature_std")) if standardize else (None, None)),
                   *((stats.get("target_mean"), stats.get("target_std")) if regression else (None, None)),
                   targets=targets)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def feature(self, name: str | None) -> Preprocessing:
        """The preprocessing of one named feature (of the single input for None)."""
        if name is None:
            return self
        entry = (self.features or {}).get(name)
        if entry is None:
            raise UserError(f"the run's preprocessing record has no feature {name!r}")
        return Preprocessing(entry["normalize"], entry["scale"], entry.get("feature_mean"), entry.get("feature_std"))

    def target_stats(self, name: str | None = None) -> tuple[list[float], list[float]] | None:
        """(mean, std) of a regression target in the train split (of the single output for None), or None."""
        if name is None:
            return None if self.target_mean is None else (self.target_mean, self.target_std)
        entry = (self.targets or {}).get(name)
        return None if entry is None else (entry["target_mean"], entry["target_std"])

    @classmethod
    def from_dict(cls, data: Any, where: str, features: int | dict[str, int], outputs: int | dict[str, int]
                  ) -> Preprocessing:
        """Read a run's record as untrusted data: known keys, finite numbers, lengths that fit the model
        (`features`, `outputs`: sizes, or sizes by name for named features and regression targets)."""
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__) or \
                data.get("normalize") not in NORMALIZATIONS:
            raise UserError(f"{where} is not a preprocessing record written by training")
        single_features = 0 if isinstance(features, dict) else features
        single_outputs = 0 if isinstance(outputs, dict) else outputs
        values = _number_lists(data, {"feature_mean": single_features, "feature_std": single_features,
                                      "target_mean": single_outputs, "target_std": single_outputs}, where)
        scale = _checked_scale(data.get("scale"), where)
        if data["normalize"] == "standardize" and values["feature_mean"] is None and not isinstance(features, dict):
            raise UserError(f"{where}: standardize needs feature_mean and feature_std")
        named_features = named_targets = None
        if isinstance(features, dict):
            entries = data.get("features")
            if not isinstance(entries, dict) or set(entries) != set(features):
                raise UserError(f"{where}: features must name the run's features {', '.join(sorted(features))}")
            named_features = {}
            for name, entry in entries.items():
                if not isinstance(entry, dict) or set(entry) != {"normalize", "scale", "feature_mean", "feature_std"} \
                        or entry["normalize"] not in NORMALIZATIONS:
                    raise UserError(f"{where}: features.{name} must hold normalize, scale, feature_mean, feature_std")
                size = features[name]
                lists = _number_lists(entry, {"feature_mean": size, "feature_std": size}, f"{where}: features.{name}")
                if entry["normalize"] == "standardize" and lists["feature_mean"] is None:
                    raise UserError(f"{where}: features.{name}: standardize needs feature_mean and feature_std")
                named_features[name] = {"normalize": entry["normalize"],
                                        "scale": _checked_scale(entry["scale"], f"{where}: features.{name}"), **lists}
        if data.get("targets") is not None:
            entries = data["targets"]
            sizes = outputs if isinstance(outputs, dict) else {}
            if not isinstance(entries, dict) or not set(entries) <= set(sizes):
                raise UserError(f"{where}: targets must name regression targets of the run's dataset.targets")
            named_targets = {}
            for name, entry in entries.items():
                if not isinstance(entry, dict) or set(entry) != {"target_mean", "target_std"}:
                    raise UserError(f"{where}: targets.{name} must hold target_mean and target_std")
                named_targets[name] = _number_lists(entry, {"target_mean": sizes[name], "target_std": sizes[name]},
                                                    f"{where}: targets.{name}")
        tokenizer = data.get("tokenizer")
        if tokenizer is not None:
            tokenizer = _checked_tokenizer(tokenizer, where)
        return cls(data["normalize"], scale, **values, features=named_features, targets=named_targets,
                   tokenizer=tokenizer)

    def feature_transform(self) -> tuple[np.ndarray, np.ndarray]:
        """(shift, divisor), flattened per feature or scalar: inputs become (x - shift) / divisor."""
        if self.normalize == "standardize":
            std = np.asarray(self.feature_std, dtype="float32")
            return np.asarray(self.feature_mean, dtype="float32"), np.where(std > 1e-7, std, 1.0).astype("float32")
        divisor = self.scale if self.normalize == "scale" else 1.0
        return np.zeros((), "float32"), np.full((), divisor, "float32")

    def apply(self, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
        """Normalise a batch of raw examples with numpy (infer); named features each as recorded."""
        if isinstance(x, dict):
            return {name: self.feature(name).apply(values) for name, values in x.items()}
        shift, divisor = self.feature_transform()
        flat = np.asarray(x, dtype="float32").reshape(len(x), -1)
        return ((flat - shift) / divisor).reshape(np.shape(x)).astype("float32")


NORMALIZATIONS = ("scale", "standardize", "none")


def _number_lists(data: dict, lengths: dict[str, int], where: str) -> dict[str, list[float] | None]:
    """Each key of `lengths`: absent (None), or a list of that many finite numbers."""
    values = {}
    for key, length in lengths.items():
        value = data.get(key)
        if value is not None and not (isinstance(value, list) and len(value) == length <= MAX_VALUES and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
            raise UserError(f"{where}: {key} must be {length} finite numbers")
        values[key] = value
    return values


def _checked_tokenizer(record: Any, where: str) -> dict[str, Any]:
    """A run record's tokenizer: its settings as `dataset.tokenizer` takes them, and a vocabulary."""
    from conf.errors import ConfigError
    from conf.schema import TOKENIZER_KEYS, check_tokenizer
    from data.text import check_vocabulary

    if not isinstance(record, dict) or set(record) != {*TOKENIZER_KEYS, "vocabulary"}:
        raise UserError(f"{where}: tokenizer must hold {', '.join(TOKENIZER_KEYS)} and vocabulary")
    settings = {key: record[key] for key in TOKENIZER_KEYS}
    try:
        check_tokenizer(f"{where}: tokenizer", settings)
    except ConfigError as error:
        raise UserError(str(error)) from None
    return {**settings, "vocabulary": check_vocabulary(record["vocabulary"], f"{where}: tokenizer")}


def _checked_scale(scale: Any, where: str) -> float:
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0 or not math.isfinite(scale):
        raise UserError(f"{where}: scale must be a positive number")
    return float(scale)


def _plain(value: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


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
