"""Datasets of other libraries (TensorFlow Datasets, Hugging Face `datasets`) read as this project's sources.

Each library describes a dataset's features its own way; its adapter (`data/datasets/tfds.py`,
`data/datasets/huggingface.py`) turns that description into `Column`s and reads a split as chunks of
columns. This module does the rest the same way for both: which column is the input and which the label
(`dataset.feature` or `dataset.features`, and `dataset.label`, or else the only candidates), the config keys
that follow from them (`input_shape`, `dtype`, `num_classes`, `task`, ...: filled where the config leaves
them, checked where it sets them), the split mapping (`dataset.splits`), and the readers `data.prepare`
splits and writes into this project's shards. Once written, the shards are read as every other dataset's
are: streamed, each epoch's order a function of (seed, epoch), resumable exactly.
"""

from __future__ import annotations

import contextlib
import difflib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, ListConfig

from conf.errors import ConfigError, UserError
from conf.schema import DatasetConfig, require

INPUT_KINDS = ("image", "text", "tensor")
SUPPORTED = "supported: fixed-size images, text, numeric tensors (fixed or of any length), class labels"
DEFAULT_TOKENIZER = {"kind": "words", "vocabulary_size": 20000, "lowercase": True, "strip_punctuation": True}
PREFERRED_INPUTS = ("image", "text", "sentence", "features", "x")
VALIDATION_NAMES = ("validation", "valid", "val", "dev")


@dataclass(frozen=True)
class Column:
    """One feature of a foreign dataset, as this project sees it: `kind` image | text | tensor | class_label |
    unsupported; `shape` of one example (None for a size that varies); `what` the library's name of its type."""

    name: str
    kind: str
    shape: tuple[int | None, ...] = ()
    dtype: str = "float32"
    class_names: tuple[str, ...] = ()
    what: str = ""


@dataclass
class SplitNames:
    """Which of the dataset's splits serves as this project's train, val and test split; null: train,
    validation (or valid, val, dev) and test where the dataset has them."""

    train: str | None = None
    val: str | None = None
    test: str | None = None


@dataclass
class ExternalDatasetConfig(DatasetConfig):
    """Keys every foreign dataset has: what to read of it. Keys left null or empty are filled from the
    dataset's own description (README, "Datasets from TensorFlow Datasets and Hugging Face")."""

    # the input column, or a list of numeric columns joined into one vector (a table's); null: the only input
    # column, the one called image or text, or else every numeric column (a table)
    feature: Any = None
    label: str | None = None  # the label column; null: `label`, or the only class-label column
    splits: SplitNames = field(default_factory=SplitNames)
    input_shape: list[Any] = field(default_factory=list)  # empty: the input column's shape
    num_classes: int | None = None  # null: the label's number of classes
    task: str | None = None  # null: classification for class labels, regression for numbers
    # null: the dataset's test split; without one, 0.15 of train (written into the run's config)
    test_fraction: float | None = None
    scale: float | None = None  # null: 255 for images (pixels 0..255), else 1
    # [height, width] every image is resized to when prepared; null: the images' own size, which must be fixed
    image_size: list[int] | None = None

    def __post_init__(self) -> None:
        require(self.task is not None and self.num_classes is not None, "dataset.name", self.name,
                "was not described by its library (a bug: the completion step did not run)")
        super().__post_init__()
        require(self.image_size is None or len(self.image_size) == 2 and all(
            isinstance(size, int) and 0 < size <= 4096 for size in self.image_size), "dataset.image_size",
            self.image_size, "must be [height, width] in pixels (1 to 4096 each), or null for the images' own size")


def closest(name: str, known: list[str] | tuple[str, ...]) -> str:
    """`; did you mean a, b?` when some known names are close to `name`, else an empty string."""
    near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(near)}?" if near else ""


def listed(names: list[str] | tuple[str, ...], limit: int = 12) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def chosen_columns(cfg: DictConfig, columns: dict[str, Column], where: str) -> tuple[list[str], str | None]:
    """(the input columns, the label column or None): as the config names them, else the only candidates."""
    available = listed([f"{c.name} ({c.what or c.kind})" for c in columns.values()])
    label = cfg.get("label")
    if label is not None and label not in columns:
        raise UserError(f"dataset.label={label}: {where} has no such feature{closest(label, list(columns))}; "
                        f"it has {available}")
    if label is None and cfg.get("task") != "unsupervised":
        classes = [c.name for c in columns.values() if c.kind == "class_label"]
        if "label" in columns:
            label = "label"
        elif len(classes) == 1:
            label = classes[0]
        else:
            raise UserError(f"{where} has {len(classes) or 'no'} class-label features among {available}: name the "
                            "label with dataset.label=<feature> (or set dataset.task=unsupervised)")
    named = list(cfg.features) if cfg.get("features") else _names(cfg.get("feature"))
    for name in named:
        if name not in columns:
            raise UserError(f"dataset.feature{'s' if cfg.get('features') else ''}: {where} has no feature {name}"
                            f"{closest(name, list(columns))}; it has {available}")
    if not named:
        candidates = [c.name for c in columns.values() if c.name != label and c.kind in INPUT_KINDS]
        preferred = [name for name in PREFERRED_INPUTS if name in candidates]
        if len(candidates) == 1 or preferred:
            named = [candidates[0] if len(candidates) == 1 else preferred[0]]
        elif candidates and all(_is_number(columns[name]) for name in candidates):
            named = candidates  # a table: its numeric columns, one vector
        elif not candidates and any(c.kind == "unsupported" and c.name != label for c in columns.values()):
            other = next(c for c in columns.values() if c.kind == "unsupported" and c.name != label)
            raise UserError(f"feature {other.name} of {where} is a {other.what}, which this project cannot read "
                            f"({SUPPORTED}), and it has no other input feature")
        else:
            raise UserError(f"{where} has {'no' if not candidates else 'several'} input features besides its label "
                            f"{label} ({available}): name one with dataset.feature=<feature>, or several with "
                            "dataset.features={<feature>: {shape: [...]}, ...}")
    for name in [*named, *([label] if label else [])]:
        if columns[name].kind == "unsupported":
            raise UserError(f"feature {name} of {where} is a {columns[name].what}, which this project cannot read "
                            f"({SUPPORTED}): choose another with dataset.feature or dataset.label")
    return named, label


DEFAULT_TEST_FRACTION = 0.15  # of train, for a dataset without a test split (DatasetConfig's default)
PINNED = ("feature", "task", "num_classes", "input_shape", "scale")  # what completion writes into a run's config


def is_pinned(cfg: DictConfig, marker: str) -> bool:
    """Whether completion already filled the config (a recorded run's, with the library's `marker` of the data
    pinned: a TFDS version, a Hugging Face fingerprint): stages that do not read the data then need not find
    the library's copy (infer and export read the run's own records)."""
    if cfg.get(marker) is None:
        return False
    pinned = [key for key in PINNED if not (cfg.get("features") and key in ("feature", "input_shape"))]
    return all(cfg.get(key) not in (None, [], {}) for key in pinned) and (
        cfg.get("label") is not None or cfg.get("task") == "unsupervised")


def pin(cfg: DictConfig, marker: str, found: Any, refusal: str) -> None:
    """Write the library's marker of the data (`dataset.<marker>`) into the config, or, where the config pinned
    one already and the data now has another, refuse it with `refusal`."""
    if cfg.get(marker) is None:
        cfg[marker] = found
    elif found is not None and str(found) != str(cfg[marker]):
        raise UserError(refusal)


def complete(cfg: DictConfig, columns: dict[str, Column], splits: list[str], where: str) -> None:
    """Fill the config keys left to the dataset (feature, label, input_shape, dtype, tokenizer, task,
    num_classes, num_outputs, test_fraction) from its columns and splits; a value the config sets that the
    data contradicts is one line naming both."""
    if "test" not in split_mapping(cfg, splits, where) and cfg.get("test_fraction") is None:
        cfg.test_fraction = DEFAULT_TEST_FRACTION
    columns = {name: resized_column(cfg, c) for name, c in columns.items()}
    inputs, label = chosen_columns(cfg, columns, where)
    if cfg.get("scale") is None:
        cfg.scale = 255.0 if any(columns[name].kind == "image" for name in inputs) else 1.0
    if cfg.get("features"):
        for name in inputs:
            entry = cfg.features[name]
            if entry.get("shape") is None:
                entry.shape = _fixed_shape(columns[name], where, f"dataset.features.{name}")
            if columns[name].kind == "image" and entry.get("scale") is None:
                entry.scale = 255.0
    elif len(inputs) > 1 or isinstance(cfg.get("feature"), (list, ListConfig)):
        wrong = [name for name in inputs if not _is_number(columns[name])]
        if wrong:
            raise UserError(f"dataset.feature={inputs}: {wrong[0]} of {where} is not a number ({columns[wrong[0]].what}"
                            f"); a list of features is a table's numeric columns, joined into one vector")
        cfg.feature = inputs
        if not cfg.input_shape:
            cfg.input_shape = [len(inputs)]
        elif int(np.prod(cfg.input_shape)) != len(inputs):
            raise ConfigError(f"dataset.input_shape={list(cfg.input_shape)} is invalid: dataset.feature names "
                              f"{len(inputs)} columns")
    else:
        cfg.feature = inputs[0]
        column = columns[inputs[0]]
        if column.kind == "text":
            shape: list[Any] = [None]
            _set(cfg, "dtype", "string", where, f"its feature {column.name} is text")
            if not cfg.tokenizer:
                cfg.tokenizer = dict(DEFAULT_TOKENIZER)
        elif column.kind != "image" and column.shape[:1] == (None,):  # numbers of any length: a sequence
            if None in column.shape[1:]:
                raise UserError(f"feature {column.name} of {where} has shape {_shown(column.shape)}: a sequence "
                                f"may vary only in its first size ({SUPPORTED})")
            shape = [None, *column.shape[1:]]
        else:
            shape = _fixed_shape(column, where, "dataset.input_shape")
        if not cfg.input_shape:
            cfg.input_shape = shape
        elif column.kind != "text" and shape[:1] != [None] and list(cfg.input_shape)[:1] != [None] and (
                int(np.prod(cfg.input_shape)) != int(np.prod(shape))):
            raise ConfigError(f"dataset.input_shape={list(cfg.input_shape)} is invalid: feature {column.name} of "
                              f"{where} has shape {shape}")
    if label is None and cfg.get("features"):
        raise UserError(f"dataset.features of {where} needs a label (dataset.label=<feature>): named inputs are read "
                        "for a supervised task")
    if label is None:
        cfg.label = None
        for key, value in (("task", "unsupervised"), ("num_classes", 1)):
            if cfg.get(key) is None:
                cfg[key] = value
        return
    cfg.label = label
    target = columns[label]
    if target.kind == "class_label" or target.kind == "tensor" and target.dtype[:3] in ("int", "uin") and (
            target.shape == ()):
        task, classes = "classification", len(target.class_names) or cfg.get("num_classes")
        if not classes:
            raise UserError(f"the label {label} of {where} holds class indices without class names: set "
                            "dataset.num_classes")
    elif target.kind == "tensor" and target.dtype.startswith("float") and None not in target.shape:
        task, classes = "regression", 1
        outputs = int(np.prod(target.shape)) if target.shape else 1
        if cfg.get("task") in (None, "regression"):
            _set(cfg, "num_outputs", outputs, where, f"its label {label} has {outputs} value(s)", default=1)
    elif target.kind == "tensor" and target.dtype[:3] in ("int", "uin", "boo") and len(target.shape) == 1 and (
            target.shape[0] is not None):
        task, classes = "multilabel", int(target.shape[0])
    else:
        raise UserError(f"feature {label} of {where} ({target.what or target.kind}, shape {_shown(target.shape)}) is "
                        "not a label this project can learn: a class label, an integer class index, numbers "
                        "(regression) or a 0/1 vector (multilabel)")
    if cfg.get("task") is None:
        cfg.task = task
    if cfg.task == "unsupervised":
        if cfg.get("num_classes") is None:
            cfg.num_classes = max(classes, 1)
        return
    if cfg.task != task:
        raise ConfigError(f"dataset.task={cfg.task} is invalid: the label {label} of {where} is for {task}; leave "
                          "dataset.task out (or set dataset.label to another feature)")
    if cfg.get("features"):  # named inputs: the label is a named target of its own, as dataset.targets declares
        size = {"num_outputs": int(cfg.get("num_outputs") or 1)} if task == "regression" else {"num_classes": classes}
        cfg.targets = {label: {"task": task, **size}}
        cfg.task, cfg.num_classes = "classification", max(int(classes), 2)  # unused beside targets (the schema's rule)
        return
    _set(cfg, "num_classes", classes, where, f"its label {label} has {classes} classes" if task != "regression"
         else "regression has no classes", default=None)


def resized_column(cfg: DictConfig, column: Column) -> Column:
    """An image column as `dataset.image_size` makes it when prepared."""
    size = cfg.get("image_size")
    if column.kind != "image" or not size or not all(isinstance(n, int) and n > 0 for n in size):
        return column  # a size the schema refuses is named by its check
    channels = column.shape[-1] if column.shape and column.shape[-1] is not None else None
    if channels is None:
        return column  # refused by _fixed_shape, naming the channels
    return Column(column.name, "image", (int(size[0]), int(size[1]), channels), column.dtype, column.class_names,
                  column.what)


def _names(feature: Any) -> list[str]:
    if feature is None:
        return []
    return [str(name) for name in feature] if isinstance(feature, (list, ListConfig)) else [str(feature)]


def _is_number(column: Column) -> bool:
    return column.kind == "tensor" and column.shape == () and column.dtype[:3] in ("flo", "int", "uin", "boo")


def _set(cfg: DictConfig, key: str, value: Any, where: str, because: str, default: Any = None) -> None:
    """Set `cfg[key]` to what the data says, unless the config already says otherwise: then one line."""
    current = cfg.get(key)
    if current is None or current == default or current == value:
        cfg[key] = value
        return
    raise ConfigError(f"dataset.{key}={current} is invalid: {where} gives {value} ({because}); leave it out")


def _fixed_shape(column: Column, where: str, key: str) -> list[int]:
    if column.kind == "image" and None in column.shape:
        raise UserError(f"feature {column.name} of {where} holds images of varying sizes (shape "
                        f"{_shown(column.shape)}): set dataset.image_size=[height,width] to resize them when prepared"
                        + (" (and give their channels)" if column.shape[-1:] == (None,) else ""))
    if column.kind == "text" or None in column.shape:
        kind = "text" if column.kind == "text" else f"a {column.what or column.kind} whose size varies"
        raise UserError(f"{key}: feature {column.name} of {where} is {kind} (shape {_shown(column.shape)}); "
                        f"{'a named feature has a fixed shape' if key.startswith('dataset.features') else SUPPORTED}")
    return list(column.shape) or [1]


def _shown(shape: tuple) -> str:
    return "[" + ", ".join("null" if d is None else str(d) for d in shape) + "]"


def split_mapping(cfg: DictConfig, available: list[str], where: str) -> dict[str, str]:
    """This project's split -> the dataset's split: as `dataset.splits` says, else train, validation (or
    valid, val, dev) and test where the dataset has them. Without a test split, train is split three ways
    (a validation split of the dataset's is then used only if `dataset.splits` names it)."""
    given = {ours: theirs for ours, theirs in (cfg.get("splits") or {}).items() if theirs is not None}
    for ours, theirs in given.items():
        if theirs not in available:
            raise UserError(f"dataset.splits.{ours}={theirs}: {where} has no split {theirs}"
                            f"{closest(str(theirs), available)}; it has {listed(available)}")
    mapping = {"train": given.get("train", "train")}
    if mapping["train"] not in available:
        raise UserError(f"{where} has no train split (it has {listed(available)}): name the one to train on with "
                        "dataset.splits.train=<split>")
    test = given.get("test", "test" if "test" in available else None)
    if test is not None:
        mapping["test"] = test
        val = given.get("val", next((name for name in VALIDATION_NAMES if name in available), None))
        if val is not None:
            mapping["val"] = val
    elif "val" in given:
        raise UserError(f"dataset.splits.val={given['val']} needs a test split too (dataset.splits.test=<split>): "
                        f"{where} has none of its own, and the test split is drawn from train with the validation one")
    return mapping


Chunks = Iterator[tuple[Any, np.ndarray]]


def readers(cfg: DictConfig, mapping: dict[str, str], read: Callable[[str, list[str], bool], Iterator[dict]],
            columns: dict[str, Column]) -> dict[str, Callable[..., Chunks]]:
    """`data.prepare`'s parts (`{"train", "test"[, "val"]}`, or `{"all"}` without a test split) over
    `read(split, column names, labels_only)`, which yields dicts of equally long arrays in a fixed order."""
    inputs = list(cfg.features) if cfg.get("features") else _names(cfg.feature)
    table = isinstance(cfg.feature, (list, ListConfig)) and not cfg.get("features")
    label = cfg.get("label")

    def reader(split: str) -> Callable[..., Chunks]:
        def chunks(labels_only: bool = False) -> Chunks:
            wanted = ([] if labels_only else inputs) + ([label] if label else [])
            for batch in read(split, wanted or inputs[:1], labels_only):
                count = len(next(iter(batch.values())))
                y = (np.asarray(batch[label]) if label else np.zeros(count, dtype="int64"))
                if label and columns[label].kind == "tensor" and y.dtype.kind == "b":
                    y = y.astype("uint8")
                if labels_only:
                    yield None, ({label: y} if cfg.get("features") else y)
                elif cfg.get("features"):
                    yield {name: np.asarray(batch[name]) for name in inputs}, {label: y}
                elif table:
                    yield np.stack([np.asarray(batch[name], dtype="float32") for name in inputs], axis=1), y
                else:
                    yield batch[inputs[0]], y
        return chunks

    parts = {ours: reader(theirs) for ours, theirs in mapping.items()}
    if "test" not in parts:
        parts = {"all": parts["train"]}
    return parts


@contextlib.contextmanager
def removing_created(*folders: Path) -> Iterator[None]:
    """Run the block; if it fails, remove each of `folders` (and the parents it created on the way) that did
    not exist before it: a library's download that failed (no network, a missing manual file) leaves no
    empty or partial folders behind. Folders that existed are left as they are."""
    created: list[Path] = []
    for folder in folders:
        path = Path(folder)
        while not path.exists() and path not in created:
            created.append(path)
            path = path.parent
    try:
        yield
    except BaseException:
        for path in sorted(created, key=lambda p: len(p.parts), reverse=True):  # the deepest first
            shutil.rmtree(path, ignore_errors=True)
        raise


def object_array(values: list) -> np.ndarray:
    """Values of varying shapes (sequences of any length) as one array of objects: a list of arrays would be
    stacked by numpy, or refused."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def class_names(cfg: DictConfig, columns: dict[str, Column]) -> list[str]:
    """The label's class names: the dataset's own, else the class indices (`0`, `1`, ...), or the label's name
    for regression; none without a label."""
    label = cfg.get("label")
    if not label:
        return []
    if columns[label].class_names:
        return list(columns[label].class_names)
    targets = cfg.get("targets") or {}
    task = targets[label]["task"] if label in targets else cfg.task
    count = targets[label].get("num_classes", 1) if label in targets else cfg.num_classes
    return [label] if task == "regression" else [str(i) for i in range(int(count))]
