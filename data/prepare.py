"""Prepare a dataset once: download it if needed, split it deterministically, write `data/<name>/` in shards.

    python -m data.prepare mnist                      # or digits, synthetic, fashion_mnist, cifar10; several names
    python -m data.prepare synthetic num_samples=1000000 input_shape=[784]   # the overrides training takes
    python -m data.prepare --list                     # every dataset, whether it is prepared, its size on disk

Each split is a folder of record shards (`data/shards.py`); `manifest.json` beside them records
counts, the record layout (dtypes, shapes), class names, per-shard checksums, the source files
and the parameters the folder was prepared with. Preparation streams: it reads the labels first
to plan a stratified split, then writes each example to its split's shards as it comes, so a
dataset larger than memory is prepared in constant memory. The whole folder is written under a
temporary name and renamed into place, so a folder that exists is complete. Training calls
`prepare_dataset` itself: it does nothing when the folder is there, and prepares it when that
needs no download.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from conf import CONF_DIR, PROJECT_ROOT
from conf.errors import ConfigError, UserError, is_disk_full
from conf.schema import complete_dataset, is_sequence, target_tasks
from data.download import sha256_of as _sha256
from data.preprocessing import RunningMoments
from data.shards import (FieldsLayout, ImagePathLayout, RecordLayout, SequenceLayout, SplitWriter, count_of,
                         parsed_batches, read_split, take)
from data.sources import SOURCES, Reader, prepare_command, source_name
from data.text import TokenCounter, Tokenizer, tokenizer_spec

SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
FORMAT = 2  # version of the prepared layout: 1 was x.npy/y.npy per split
LABEL_PLAN_BYTES = 9  # memory a split plan takes per example: its label (int64) and its split (int8)
VERIFY_BYTES = 1 << 30  # shards are checksummed on every use up to this size; larger ones by `--verify`
DATASET_CONF_DIR = CONF_DIR / "dataset"
# Keys that change how the pipeline reads a prepared folder, not the folder itself.
READING_KEYS = ("scale", "input_shape", "cache", "shuffle_window", "normalize", "augment", "max_length",
                "bucket_boundaries", "padding_value")


def preparation_params(cfg: DictConfig) -> dict:
    """Every parameter that changes the prepared files.

    `scale`, caching and the exact `input_shape` only change how the pipeline reads the files, so
    a prepared folder serves `[8, 8, 1]` and `[64]` alike; only the number of values counts.
    """
    params = OmegaConf.to_container(cfg, resolve=True)
    for key in READING_KEYS:
        params.pop(key, None)
    features = params.pop("features", None) or {}
    params["values_per_example"] = ({name: int(np.prod(feature["shape"])) for name, feature in features.items()}
                                    if features else values_per_step(cfg.input_shape))
    for key in ("targets", "tokenizer", "dtype"):  # as a folder prepared before these keys existed recorded it
        if not params.get(key):
            params.pop(key, None)
    if is_sequence(cfg.input_shape):
        params["sequence"] = True  # a folder of sequences is never one of fixed-size records
    if params.get("tokenizer"):
        params["tokenizer"] = tokenizer_spec(params["tokenizer"])
    return params


def _readable(name: str) -> str:
    """A dataset name (a builder, a hub id, a path) as part of a folder name: a path by its last part."""
    path = Path(name).expanduser()
    shown = path.name if "/" in name and path.exists() else name
    return re.sub(r"[^A-Za-z0-9_.]+", "_", shown).strip("_.") or "dataset"


def values_per_step(input_shape: Any) -> int:
    """Values of one example (fixed shapes), or of one step of a sequence ([null] has one, [null, c] has c)."""
    shape = list(input_shape)
    return int(np.prod(shape[1:])) if is_sequence(shape) else int(np.prod(shape))


def prepared_dir(cfg: DictConfig, data_dir: str | Path) -> Path:
    """`data/<name>`; a parametric dataset's folder also carries a hash of its parameters, so that
    every size and shape of `synthetic`, and every image folder, gets a prepared folder of its own."""
    source = source_name(cfg)
    if not SOURCES[source].parametric:
        return Path(data_dir) / cfg.name
    digest = hashlib.sha256(json.dumps(preparation_params(cfg), sort_keys=True).encode()).hexdigest()
    if source != cfg.name:  # another library's dataset: `tfds-cifar100_3.0.2-<digest>`, `huggingface-<file>-<digest>`
        return Path(data_dir) / f"{source}-{_readable(str(cfg.name))}-{digest[:12]}"
    return Path(data_dir) / f"{cfg.name}-{digest[:12]}"


def split_indices(y: np.ndarray, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Stratified split: each class is shuffled with `seed`, cut into the parts `fractions` names
    (in order), and what remains is `train`."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in [*fractions, "train"]}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        start = 0
        for split, fraction in fractions.items():
            count = max(1, round(len(members) * fraction))
            parts[split].append(members[start:start + count])
            start += count
        parts["train"].append(members[start:])
    return {split: np.sort(np.concatenate(chunks)) for split, chunks in parts.items()}


def plan_splits(cfg: DictConfig, labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """For each part of the source, the split (index into SPLITS) of each of its examples: an
    official test split is kept and val is drawn from train; otherwise all examples are split
    three ways."""
    if "all" not in labels:
        if cfg.test_fraction is not None:
            raise ConfigError(f"dataset.test_fraction={cfg.test_fraction} is invalid: {cfg.name} has an official "
                              "test split; set it to null")
        fractions = {} if "val" in labels else {"val": cfg.val_fraction}
    else:
        if cfg.test_fraction is None:
            raise ConfigError(f"dataset.test_fraction=null is invalid: {cfg.name} has no official test split; "
                              "give a fraction in (0, 0.5)")
        fractions = {"test": cfg.test_fraction, "val": cfg.val_fraction}
    plans = {}
    for part, y in labels.items():
        if part in ("val", "test"):  # given by the source: kept whole
            plans[part] = np.full(len(y), SPLITS.index(part), dtype=np.int8)
            continue
        plan = np.empty(len(y), dtype=np.int8)
        for split, index in split_indices(y, fractions, cfg.split_seed).items():
            plan[index] = SPLITS.index(split)
        plans[part] = plan
    return plans


def stratifying_labels(cfg: DictConfig, y: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
    """The labels a split is stratified by: the targets, or of named targets the first classification one
    (none: zeros, an unstratified split)."""
    if not isinstance(y, dict):
        return y
    classified = [name for name, task in target_tasks(cfg).items() if task == "classification" and name in y]
    return y[classified[0]] if classified else np.zeros(count_of(y), dtype="int64")


def stratified(task: str, labels: dict[str, np.ndarray]) -> bool:
    """Whether the split is drawn class by class: for classification, and for a task without labels on
    data that has class indices (so that it splits a dataset as a classification run of it does)."""
    return task == "classification" or task == "unsupervised" and all(
        y.ndim == 1 and y.dtype.kind in "iub" for y in labels.values())


def tasks_share_folder(recorded: str | None, wanted: str, layout: dict[str, Any]) -> bool:
    """Whether a folder prepared for task `recorded` serves task `wanted`: the same task, or a task without
    labels on either side where the stored targets are what the other task stores."""
    if recorded == wanted or wanted == "unsupervised":
        return True
    if recorded != "unsupervised":
        return False
    stored = (layout.get("y_dtype"), len(layout.get("y_shape", [])))
    return stored == {"classification": ("int64", 0), "regression": ("float32", 1)}.get(wanted)


def raw_files(cfg: DictConfig, data_dir: str | Path, download: bool) -> dict[str, Path]:
    """The dataset's raw files in `<data_dir>/downloads/<name>/`, verified; downloaded first if
    `download`. A file's genuine uncompressed form placed there by hand is accepted instead."""
    from data.download import download as fetch
    from data.download import verified_local

    directory = Path(data_dir) / "downloads" / cfg.name
    created = [folder for folder in (directory, directory.parent) if not folder.exists()]
    files = {}
    try:
        for remote in SOURCES[source_name(cfg)].files:
            local = verified_local(remote, directory)
            if local is None and not download:
                raise UserError(f"dataset {cfg.name} is not prepared and needs a download: run "
                                f"`python -m data.prepare {cfg.name}` (or place {remote.name} in {directory})")
            files[remote.name] = local or fetch(remote, directory)
    except BaseException:  # no network, a refused file: no empty folders left (a partial download stays, to resume)
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return files


def _check_input_shape(cfg: DictConfig, stored_shape: list[int] | dict[str, list[int]]) -> None:
    if isinstance(stored_shape, dict):  # named features: each as configured
        wanted = OmegaConf.to_container(cfg.features)
        if set(wanted) != set(stored_shape):
            raise ConfigError(f"dataset.features={sorted(wanted)} is invalid: {cfg.name} has features "
                              f"{', '.join(sorted(stored_shape))}")
        for name, shape in stored_shape.items():
            if int(np.prod(shape)) != int(np.prod(wanted[name]["shape"])):
                raise ConfigError(f"dataset.features.{name}.shape={wanted[name]['shape']} is invalid: {cfg.name}'s "
                                  f"{name} has {int(np.prod(shape))} values, e.g. {list(shape)}")
        return
    if is_sequence(stored_shape) or is_sequence(cfg.input_shape):
        if list(stored_shape) != list(cfg.input_shape):
            raise ConfigError(f"dataset.input_shape={list(cfg.input_shape)} is invalid: {cfg.name} holds "
                              f"{'sequences' if is_sequence(stored_shape) else 'examples'} of shape "
                              f"{['null' if d is None else d for d in stored_shape]}")
        return
    values = int(np.prod(stored_shape))
    if values != int(np.prod(cfg.input_shape)):
        raise ConfigError(f"dataset.input_shape={list(cfg.input_shape)} is invalid: {cfg.name} examples "
                          f"have {values} values, e.g. {list(stored_shape)} or [{values}]")


def read_manifest(folder: Path | str) -> dict[str, Any]:
    """A prepared folder's manifest, or a UserError saying how to prepare it again."""
    folder = Path(folder)
    again = f"run `python -m data.prepare {folder.name.split('-')[0]} --force`"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("format") != FORMAT:
            raise UserError(f"{folder} was prepared by an older version of this project; {again}")
        manifest["stored_shape"], manifest["params"], manifest["record"]  # noqa: B018 -- all must be there
        for entry in manifest["splits"].values():
            for shard in entry["shards"]:
                shard["file"], shard["bytes"], shard["sha256"]  # noqa: B018
    except UserError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"{folder} has no readable {MANIFEST}: it was not written (or was edited) after "
                        f"data.prepare; {again}") from None
    return manifest


def verify_shards(folder: Path, manifest: dict[str, Any], checksums: bool) -> None:
    """Every shard is there with its size; with `checksums`, also with its SHA-256."""
    for entry in manifest["splits"].values():
        for shard in entry["shards"]:
            path = folder / shard["file"]
            if not path.is_file() or path.stat().st_size != shard["bytes"] or (
                    checksums and _sha256(path) != shard["sha256"]):
                command = manifest.get("prepare", f"python -m data.prepare {manifest['name']}")
                raise UserError(f"{path} is missing or was changed since data.prepare wrote it; run "
                                f"`{command} --force`")


def _check_prepared(folder: Path, cfg: DictConfig, verify: bool = False) -> dict[str, Any]:
    manifest = read_manifest(folder)
    total = sum(s["bytes"] for entry in manifest["splits"].values() for s in entry["shards"])
    verify_shards(folder, manifest, checksums=verify or total <= VERIFY_BYTES)
    layout = RecordLayout.from_dict(manifest["record"])
    if isinstance(layout, ImagePathLayout):
        for split in SPLITS:
            missing = next((p for p in read_split(folder, manifest["splits"][split], layout)[0]
                            if not Path(p).is_file()), None)
            if missing:
                raise UserError(f"{missing} was listed when {folder} was prepared and is gone; run "
                                f"`python -m data.prepare {cfg.name} path={cfg.path} --force`")
    else:
        _check_input_shape(cfg, manifest["stored_shape"])
    recorded = dict(manifest["params"])
    wanted = preparation_params(cfg)
    if tasks_share_folder(recorded.get("task"), wanted.get("task"), manifest["record"]):
        recorded["task"] = wanted.get("task")
    changed = [f"{key}={wanted.get(key)!r} (prepared: {recorded.get(key)!r})"
               for key in sorted(set(recorded) | set(wanted)) if recorded.get(key) != wanted.get(key)]
    intrinsic = [key for key in ("num_classes", "num_outputs", "values_per_example")
                 if key in recorded and recorded.get(key) != wanted.get(key)]
    if intrinsic and not SOURCES[source_name(cfg)].parametric:  # preparing again would read the same data
        key = intrinsic[0]
        shown = f"dataset.{key}={wanted.get(key)!r}" if key != "values_per_example" else \
            f"dataset.input_shape={list(cfg.input_shape)}"
        raise UserError(f"{shown} does not fit dataset={cfg.name}, whose data has {key}="
                        f"{recorded.get(key)!r}; leave it at the dataset's value")
    if changed:
        raise UserError(f"{folder} was prepared differently from the dataset config: {', '.join(changed)}; "
                        f"run `{prepare_command(cfg)} --force` to prepare it again")
    return manifest


def _check_disk(directory: Path, needed: int, what: str) -> None:
    """Refuse before writing when the files cannot fit the disk (with 5 % and 64 MiB to spare)."""
    free = shutil.disk_usage(directory).free
    if needed * 1.05 + (64 << 20) > free:
        raise UserError(f"{what} needs about {needed / 1e9:.3g} GB in {directory}, which has {free / 1e9:.3g} GB "
                        "free: reduce the dataset (e.g. dataset.num_samples) or free some space")


def _existing_parent(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def check_memory(needed: int, what: str, advice: str = "reduce the dataset (e.g. dataset.num_samples)") -> None:
    """Refuse what would take more than half the machine's available memory, before allocating it."""
    try:
        available = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                             if line.startswith("MemAvailable:"))) * 1024
    except (OSError, StopIteration, ValueError):
        return  # not Linux: no cheap way to know
    if needed > available // 2:
        raise UserError(f"{what} needs about {needed / 1e9:.3g} GB of memory, the machine has "
                        f"{available / 1e9:.3g} GB available: {advice}")


def _target_layout(cfg: DictConfig, y: np.ndarray) -> tuple[str, tuple[int, ...]]:
    """How targets are stored, checked against the task: class indices, label vectors or values. A task
    without labels keeps what the source gives (class indices, or values), unused by training but
    there for a later supervised run on the same prepared folder."""
    if cfg.task == "unsupervised":
        if y.ndim == 1 and y.dtype.kind in "iub":
            return "int64", ()
        return "float32", (1 if y.ndim == 1 else int(np.prod(y.shape[1:])),)
    if cfg.task == "classification":
        if y.ndim != 1:
            raise UserError(f"dataset {cfg.name} has targets of shape {list(y.shape[1:])}: task classification "
                            "takes one class index per example (dataset.task=multilabel or regression?)")
        return "int64", ()
    width = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    expected = cfg.num_classes if cfg.task == "multilabel" else cfg.num_outputs
    key = "dataset.num_classes" if cfg.task == "multilabel" else "dataset.num_outputs"
    if width != expected:
        raise UserError(f"{key}={expected}, but dataset {cfg.name} has {width} target value(s) per example: "
                        f"set {key}={width}")
    return ("uint8", (width,)) if cfg.task == "multilabel" else ("float32", (width,))


def _check_targets(cfg: DictConfig, y: np.ndarray) -> None:
    if cfg.task == "classification" and len(y) and (y.min() < 0 or y.max() >= cfg.num_classes):
        raise UserError(f"dataset.num_classes={cfg.num_classes}, but dataset {cfg.name} has labels from {y.min()} "
                        f"to {y.max()}: set dataset.num_classes={int(y.max()) + 1}")
    if cfg.task == "multilabel" and len(y) and not np.isin(y, (0, 1)).all():
        raise UserError(f"dataset {cfg.name}: multilabel targets must be 0 or 1 for each label")
    if cfg.task == "regression" and not np.isfinite(y).all():
        raise UserError(f"dataset {cfg.name} has NaN or infinite targets")


def _named_layout(cfg: DictConfig, x: Any, y: Any) -> FieldsLayout:
    """The record layout of named features and targets, checked against `dataset.features` and `.targets`."""
    features = OmegaConf.to_container(cfg.features) if cfg.get("features") else {}
    targets = OmegaConf.to_container(cfg.targets) if cfg.get("targets") else {}
    if not isinstance(x, dict) or not isinstance(y, dict) or set(x) != set(features) or set(y) != set(targets):
        given = (sorted(x) if isinstance(x, dict) else "one array", sorted(y) if isinstance(y, dict) else "one array")
        raise UserError(f"dataset {cfg.name} gives features {given[0]} and targets {given[1]}; its config declares "
                        f"features {sorted(features) or 'none'} and targets {sorted(targets) or 'none'}")
    fields = []
    for name, target in targets.items():
        values = y[name]
        if target["task"] == "classification":
            if values.ndim != 1:
                raise UserError(f"dataset {cfg.name}: target {name} has shape {list(values.shape[1:])}; task "
                                "classification takes one class index per example")
            fields.append((name, "int64", ()))
            continue
        width = 1 if values.ndim == 1 else int(np.prod(values.shape[1:]))
        key = "num_classes" if target["task"] == "multilabel" else "num_outputs"
        if width != target.get(key, 2 if key == "num_classes" else 1):
            raise UserError(f"dataset.targets.{name}.{key}={target.get(key)}, but dataset {cfg.name} has {width} "
                            f"value(s) per example for it: set dataset.targets.{name}.{key}={width}")
        fields.append((name, "uint8" if target["task"] == "multilabel" else "float32", (width,)))
    layout = FieldsLayout(tuple((name, str(x[name].dtype), tuple(int(d) for d in x[name].shape[1:]))
                                for name in features), tuple(fields))
    _check_input_shape(cfg, {name: list(shape) for name, _, shape in layout.features})
    return layout


def _check_named_targets(cfg: DictConfig, y: dict[str, np.ndarray]) -> None:
    for name, target in OmegaConf.to_container(cfg.targets).items():
        values = y[name]
        if target["task"] == "classification" and len(values) and (values.min() < 0 or
                                                                    values.max() >= target["num_classes"]):
            raise UserError(f"dataset.targets.{name}.num_classes={target['num_classes']}, but dataset {cfg.name} has "
                            f"{name} from {values.min()} to {values.max()}")
        if target["task"] == "regression" and not np.isfinite(values).all():
            raise UserError(f"dataset {cfg.name} has NaN or infinite values of target {name}")


def _write_named_splits(staging: Path, parts: dict[str, Reader], plans: dict[str, np.ndarray], cfg: DictConfig
                        ) -> tuple[FieldsLayout, dict[str, Any], dict[str, Any]]:
    """`_write_splits` for named features and targets: the same streaming, statistics per feature and per
    regression target."""
    writers: dict[str, SplitWriter] = {}
    layout = None
    features: dict[str, RunningMoments] = {}
    targets: dict[str, RunningMoments] = {}
    for part, read in parts.items():
        plan, start = plans[part], 0
        for x, y in read():
            if layout is None:
                layout = _named_layout(cfg, x, y)
                examples = sum(len(p) for p in plans.values())
                _check_disk(staging.parent, examples * layout.record_bytes, f"dataset {cfg.name}")
                writers = {split: SplitWriter(staging, split, layout) for split in SPLITS}
                features = {name: RunningMoments() for name, _, _ in layout.features}
                targets = {name: RunningMoments() for name, dtype, _ in layout.targets if dtype == "float32"}
            _check_named_targets(cfg, y)
            where = plan[start:start + count_of(y)]
            for index, split in enumerate(SPLITS):
                chosen = where == index
                if not chosen.any():
                    continue
                chosen_x, chosen_targets = take(x, chosen), take(y, chosen)
                chosen_y = {name: chosen_targets[name].reshape(int(chosen.sum()), *shape).astype(dtype)
                            for name, dtype, shape in layout.targets}
                writers[split].write(chosen_x, chosen_y)
                if split == "train":
                    for name, moments in features.items():
                        moments.add(chosen_x[name])
                    for name, moments in targets.items():
                        moments.add(chosen_y[name])
            start += count_of(y)
    if layout is None:
        raise UserError(f"dataset {cfg.name} has no examples")
    stats = {"features": {name: dict(zip(("feature_mean", "feature_std"), m.result(), strict=True))
                          for name, m in features.items() if m.count},
             "targets": {name: dict(zip(("target_mean", "target_std"), m.result(), strict=True))
                         for name, m in targets.items() if m.count}}
    return layout, {split: writer.close() for split, writer in writers.items()}, stats


def _sequence_layout(cfg: DictConfig, x: Any, y: np.ndarray) -> SequenceLayout:
    """The layout of a source's sequences, checked against `dataset.dtype` and `dataset.input_shape`."""
    first = next((value for value in x), None)
    texts = isinstance(first, (str, bytes))
    stored = "string" if texts else ("int64" if np.asarray(first).dtype.kind in "iub" else "float32")
    if cfg.dtype is not None and cfg.dtype != stored:
        raise UserError(f"dataset.dtype={cfg.dtype}, but dataset {cfg.name} holds {'texts' if texts else 'numbers'}"
                        f" ({stored}): set dataset.dtype={stored}")
    y_dtype, y_shape = _target_layout(cfg, y)
    return SequenceLayout(stored, None if len(cfg.input_shape) == 1 else int(cfg.input_shape[1]), y_dtype, y_shape)


def _checked_sequences(cfg: DictConfig, layout: SequenceLayout, x: Any, first: int) -> list:
    """A chunk's sequences as the layout stores them: texts as str, numbers as float/int arrays of
    (steps[, channels]); one line naming the first example that is not so."""
    rows = []
    for index, value in enumerate(x):
        where = f"dataset {cfg.name}, example {first + index}"
        if layout.x_dtype == "string":
            if not isinstance(value, (str, bytes)):
                raise UserError(f"{where} is {type(value).__name__}, not a text: every example of a text dataset "
                                "is one")
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise UserError(f"{where} is not UTF-8 text (byte {error.start})") from None
            rows.append(value)
            continue
        row = np.asarray(value)
        if row.dtype.kind not in "iufb" or row.ndim != len(layout.x_shape) or (
                layout.channels is not None and row.shape[1] != layout.channels):
            raise UserError(f"{where} has shape {list(row.shape)}: dataset.input_shape="
                            f"{['null' if d is None else d for d in layout.x_shape]} takes sequences of numbers of "
                            f"shape {['steps' if d is None else d for d in layout.x_shape]}")
        if len(row) == 0:
            raise UserError(f"{where} is an empty sequence: every example needs at least one step")
        if not np.isfinite(row).all():
            raise UserError(f"{where} holds NaN or infinite values")
        rows.append(row.astype(layout.x_dtype))
    return rows


def _write_sequence_splits(staging: Path, parts: dict[str, Reader], plans: dict[str, np.ndarray], cfg: DictConfig
                           ) -> tuple[SequenceLayout, dict[str, Any], dict[str, Any]]:
    """`_write_splits` for sequences: TFRecord shards, the tokenizer's vocabulary counted on the train texts,
    each split's lengths (steps, or tokens of a text) recorded; per-channel statistics of numeric steps."""
    writers: dict[str, SplitWriter] = {}
    layout = None
    steps = RunningMoments()
    lengths: dict[str, Counter] = {split: Counter() for split in SPLITS}
    tokens = TokenCounter(tokenizer_spec(cfg.tokenizer)) if cfg.get("tokenizer") else None
    for part, read in parts.items():
        plan, start = plans[part], 0
        for x, y in read():
            _check_targets(cfg, y)
            if layout is None:
                layout = _sequence_layout(cfg, x, y)
                writers = {split: SplitWriter(staging, split, layout) for split in SPLITS}
            rows = _checked_sequences(cfg, layout, x, start)
            where = plan[start:start + len(y)]
            for index, split in enumerate(SPLITS):
                chosen = np.flatnonzero(where == index)
                if not len(chosen):
                    continue
                chosen_x = [rows[i] for i in chosen]
                chosen_y = y[chosen].reshape(len(chosen), *layout.y_shape).astype(layout.y_dtype)
                writers[split].write(chosen_x, chosen_y)
                if tokens is None:
                    lengths[split].update(len(row) for row in chosen_x)
                    if split == "train":
                        steps.add(np.concatenate(chosen_x).reshape(-1, layout.channels or 1))
                elif split == "train":
                    tokens.add(chosen_x)
            start += len(y)
    if layout is None:
        raise UserError(f"dataset {cfg.name} has no examples")
    stats: dict[str, Any] = {}
    if steps.count:
        stats["feature_mean"], stats["feature_std"] = steps.result()
    entries = {split: writer.close() for split, writer in writers.items()}
    if tokens is not None:
        stats["tokenizer"] = {**tokens.spec, "vocabulary": tokens.vocabulary()}
        tokenizer = Tokenizer(stats["tokenizer"])
        for split, entry in entries.items():
            lengths[split] = _token_lengths(staging, entry, layout, tokenizer)
        if not any(n for n in lengths["train"] if n):
            raise UserError(f"dataset {cfg.name}: every text of its train split is empty once tokenized "
                            f"(dataset.tokenizer={tokens.spec}): there is nothing to learn from")
    for split, entry in entries.items():
        entry["lengths"] = length_summary(lengths[split])
    return layout, entries, stats


def _token_lengths(staging: Path, entry: dict[str, Any], layout: SequenceLayout, tokenizer: Tokenizer) -> Counter:
    """How many texts of a written split have each number of tokens, read back from its shards once the
    vocabulary is known (a `wordpiece` text's length depends on it), with the pipeline's own tokenizer."""
    counts: Counter = Counter()
    for texts, _ in parsed_batches([str(staging / shard["file"]) for shard in entry["shards"]], layout):
        counts.update(int(n) for n in tokenizer(texts).row_lengths().numpy())
    return counts


def length_summary(lengths: Any) -> dict[str, Any]:
    """min, median and max of a split's sequence lengths, and how many examples have each length."""
    counts = sorted(lengths.items())
    if not counts:
        return {"min": 0, "median": 0, "max": 0, "histogram": []}
    total, seen, median = sum(n for _, n in counts), 0, counts[-1][0]
    for length, n in counts:
        seen += n
        if seen * 2 >= total:
            median = length
            break
    return {"min": counts[0][0], "median": median, "max": counts[-1][0], "histogram": [list(c) for c in counts]}


def _write_splits(staging: Path, parts: dict[str, Reader], plans: dict[str, np.ndarray], cfg: DictConfig
                  ) -> tuple[RecordLayout | ImagePathLayout, dict[str, Any], dict[str, Any]]:
    """Stream every part's examples into its splits' shards; returns the layout, the split entries and
    the train split's statistics (per-feature and, for regression, per-target mean and std)."""
    if cfg.get("features") or cfg.get("targets"):
        return _write_named_splits(staging, parts, plans, cfg)
    if is_sequence(cfg.input_shape):
        return _write_sequence_splits(staging, parts, plans, cfg)
    writers: dict[str, SplitWriter] = {}
    layout = None
    features, targets = RunningMoments(), RunningMoments()
    for part, read in parts.items():
        plan, start = plans[part], 0
        for x, y in read():
            _check_targets(cfg, y)
            if layout is None:
                y_dtype, y_shape = _target_layout(cfg, y)
                if x.dtype.kind in "UO":  # image paths: decoded and resized to input_shape in the pipeline
                    layout = ImagePathLayout(tuple(int(d) for d in cfg.input_shape))
                else:
                    layout = RecordLayout(str(x.dtype), tuple(int(d) for d in x.shape[1:]), y_dtype, y_shape)
                    _check_input_shape(cfg, list(layout.x_shape))
                examples = sum(len(p) for p in plans.values())
                _check_disk(staging.parent, examples * layout.record_bytes, f"dataset {cfg.name}")
                writers = {split: SplitWriter(staging, split, layout) for split in SPLITS}
            where = plan[start:start + len(y)]
            for index, split in enumerate(SPLITS):
                chosen = where == index
                if chosen.any():
                    chosen_y = y[chosen].reshape(int(chosen.sum()), *layout.y_shape).astype(layout.y_dtype)
                    writers[split].write(x[chosen], chosen_y)
                    if split == "train" and x.dtype.kind not in "UO":
                        features.add(x[chosen])
                        if layout.y_dtype == "float32":  # regression, or values kept by a task without labels
                            targets.add(chosen_y)
            start += len(y)
    if layout is None:
        raise UserError(f"dataset {cfg.name} has no examples")
    stats = {}
    if features.count:
        stats["feature_mean"], stats["feature_std"] = features.result()
    if targets.count:
        stats["target_mean"], stats["target_std"] = targets.result()
    return layout, {split: writer.close() for split, writer in writers.items()}, stats


def prepare_dataset(cfg: DictConfig, data_dir: str | Path, force: bool = False, download: bool = False,
                    verify: bool = False) -> Path:
    """Write the dataset's split shards unless they exist already; returns the dataset folder.

    A dataset whose raw files must be downloaded is only downloaded when `download` is set (the
    `python -m data.prepare` command); training prepares it itself only from files already here.
    """
    if source_name(cfg) not in SOURCES:
        raise ConfigError(f"dataset.name={cfg.name!r} is invalid: must be one of {', '.join(SOURCES)}")
    data_dir = check_data_dir(data_dir)
    folder = prepared_dir(cfg, data_dir)
    if folder.exists() and not force:
        _check_prepared(folder, cfg, verify)
        return folder
    source = SOURCES[source_name(cfg)]
    if source.size_of is not None:  # refuse what cannot fit before generating anything
        examples, example_bytes = source.size_of(cfg)
        _check_disk(_existing_parent(folder), examples * example_bytes, f"dataset {cfg.name}")
        check_memory(examples * LABEL_PLAN_BYTES, f"planning the split of dataset {cfg.name}")
    if source.fetch is not None:  # another library's dataset, in that library's own folder
        source.fetch(cfg, download)
        files = {}
    else:
        files = raw_files(cfg, data_dir, download)
    parts = source.load(cfg, files)
    try:
        labels = {part: np.concatenate([stratifying_labels(cfg, y) for _, y in read(labels_only=True)])
                  for part, read in parts.items()}
    except MemoryError:
        raise UserError(f"dataset {cfg.name} has too many examples to plan its split in memory (8 bytes of "
                        "label each): reduce the dataset (e.g. dataset.num_samples)") from None
    if not stratified(cfg.task, labels):  # stratify by class only where there are classes
        labels = {part: np.zeros(len(y), dtype="int64") for part, y in labels.items()}
    plans = plan_splits(cfg, labels)
    created = [path for path in (folder.parent, *folder.parent.parents) if not path.exists()]
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as error:
        raise UserError(f"cannot create {folder.parent}: {error.strerror or error}") from None
    try:
        return _write_prepared(cfg, source, parts, plans, staging, folder, force)
    except BaseException:
        for path in created:  # deepest first: a failed preparation leaves no empty data folder behind
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


def _write_prepared(cfg: DictConfig, source, parts, plans, staging: Path, folder: Path, force: bool) -> Path:
    """Write the splits and manifest into `staging`, then rename it to `folder` (removing staging on failure)."""
    try:
        staging.chmod(0o777 & ~_current_umask())  # mkdtemp makes it private; a dataset folder is an ordinary one
        layout, splits, stats = _write_splits(staging, parts, plans, cfg)
        stored_shape = ({name: list(shape) for name, _, shape in layout.features} if isinstance(layout, FieldsLayout)
                        else list(layout.x_shape))
        manifest = {"format": FORMAT, "name": cfg.name, "params": preparation_params(cfg),
                    "stored_shape": stored_shape, "record": layout.as_dict(), "stats": stats,
                    "num_classes": int(cfg.num_classes),
                    "class_names": list(source.class_names_of(cfg) if source.class_names_of else source.class_names),
                    "source": [{"file": r.name, "sha256": r.sha256, "urls": list(r.urls)} for r in source.files],
                    "prepare": prepare_command(cfg), "splits": splits}
        if source.described is not None:
            manifest["external"] = source.described(cfg)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if force and folder.exists():
            shutil.rmtree(folder)
        try:
            staging.rename(folder)
        except OSError:  # another process prepared it first: theirs is as good as ours
            if not (folder / MANIFEST).is_file():
                raise
    except OSError as error:
        if is_disk_full(error, folder.parent):
            raise UserError(f"the disk is full while preparing {folder}; nothing was kept: free some space "
                            "and run the command again") from None
        raise
    except MemoryError:
        raise UserError(f"out of memory while preparing {folder}; nothing was kept") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_split(folder: Path, split: str, input_shape: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A split's examples (reshaped to `input_shape` if given) and their labels, in memory with numpy."""
    manifest = read_manifest(Path(folder))
    x, y = read_split(folder, manifest["splits"][split], RecordLayout.from_dict(manifest["record"]))
    return (x.reshape(len(x), *input_shape) if input_shape is not None and not isinstance(x, dict) else x), y


def dataset_config(name: str, overrides: tuple[str, ...] | list[str] = ()) -> DictConfig:
    """The validated config of `conf/dataset/<name>.yaml` plus overrides, as a run sees it.

    Overrides are those training takes, with or without the `dataset.` prefix
    (`num_samples=1000` or `dataset.num_samples=1000`).
    """
    path = DATASET_CONF_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in DATASET_CONF_DIR.glob("*.yaml"))
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    from hydra import compose, initialize_config_dir

    from conf.schema import register_configs

    register_configs()
    prefixed = [o if o.startswith(("dataset.", "+dataset.", "~dataset.")) else f"dataset.{o}" for o in overrides]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        # `~model`: a dataset's config does not depend on the model, and data/ does not import models/
        cfg = compose("config", overrides=["~model", f"dataset={name}", *prefixed])
    complete_dataset(cfg.dataset)
    OmegaConf.to_object(cfg.dataset)
    return cfg.dataset


def _folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def check_data_dir(data_dir: str | Path) -> Path:
    """`data_dir` as a Path, or a UserError when it is a file."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"data_dir={data_dir} is a file, not a folder: give a folder for prepared datasets")
    return data_dir


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # text and sequences are written with TensorFlow: quietly
    parser = argparse.ArgumentParser(prog="python -m data.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="datasets to prepare (names of conf/dataset/*.yaml), then "
                        "key=value overrides of their config, as training takes them")
    parser.add_argument("--list", action="store_true", help="list every dataset and whether it is prepared")
    parser.add_argument("--force", action="store_true", help="prepare again even if the folder exists")
    parser.add_argument("--verify", action="store_true", help="check every shard's SHA-256, however large")
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / "data"),
                        help="where prepared datasets live (default: the project's data/)")
    args = parser.parse_args(argv)
    names = [n for n in args.names if "=" not in n]
    overrides = [n for n in args.names if "=" in n]
    if not names and not args.list:  # one line, not argparse's usage block
        print("error: name a dataset to prepare (python -m data.prepare digits), or pass --list to see them all",
              file=sys.stderr)
        return 2
    try:
        if args.list:
            check_data_dir(args.data_dir)
            for path in sorted(DATASET_CONF_DIR.glob("*.yaml")):
                try:
                    folder = prepared_dir(dataset_config(path.stem), args.data_dir)
                except Exception:  # e.g. image_folder, which needs path=...: one folder per configuration
                    print(f"{path.stem:14s} (one folder per configuration: "
                          f"python -m data.prepare {path.stem} key=value)")
                    for folder in sorted(Path(args.data_dir).glob(f"{path.stem}-*")):
                        if (folder / MANIFEST).is_file():  # each configuration prepared so far
                            print(f"{'':14s} {folder}  prepared, {_folder_size(folder) / 1e6:.1f} MB")
                    continue
                status = f"prepared, {_folder_size(folder) / 1e6:.1f} MB" if folder.exists() else "not prepared"
                print(f"{path.stem:14s} {folder}  {status}")
        for name in names:
            cfg = dataset_config(name, overrides)
            existed = prepared_dir(cfg, args.data_dir).exists() and not args.force
            folder = prepare_dataset(cfg, args.data_dir, force=args.force, download=True, verify=args.verify)
            print(f"{name}: {'already prepared in' if existed else 'prepared'} {folder}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a bad override: Hydra's and OmegaConf's errors, in one line
        from conf.errors import one_line_error

        message = one_line_error(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
