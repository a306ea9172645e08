"""Hugging Face datasets: `dataset=huggingface dataset.name=<hub id, local folder or data file>`.

Read through the `datasets` library: a folder written by `save_to_disk` (`load_from_disk`), a data file or
folder of parquet / arrow / csv / json files, or a hub id (`load_dataset`, with `dataset.subset`,
`dataset.revision`, `dataset.data_files`; `dataset.streaming=true` reads a large one without a full
download). Training reads only what is already on this machine (the hub offline); `python -m data.prepare
huggingface name=<hub id>` downloads into the library's cache first. Columns are mapped by config
(`dataset.feature`, `dataset.label`) or, when left null, from the dataset's features (`data.ecosystem`);
class names come from a `ClassLabel` column. The train split's fingerprint (the library's hash of its
data) is pinned in the run's config (`dataset.fingerprint`), so a dataset changed at the same place is
refused rather than read as the run's own. The `datasets` library no longer runs dataset scripts, so a
hub id or a folder names data, never code.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from conf.errors import UserError, first_line
from data import ecosystem
from data.ecosystem import (Column, ExternalDatasetConfig, complete, is_pinned, object_array, pin, readers,
                            resized_column, split_mapping)
from data.sources import CHUNK_EXAMPLES, Source

FILE_FORMATS = {".parquet": "parquet", ".arrow": "arrow", ".csv": "csv", ".tsv": "csv", ".json": "json",
                ".jsonl": "json", ".txt": "text"}


@dataclass
class HuggingFaceDatasetConfig(ExternalDatasetConfig):
    source: str = "huggingface"
    subset: str | None = None  # a hub dataset's configuration (load_dataset's `name`)
    revision: str | None = None  # a hub dataset's commit, tag or branch; null: its main branch
    data_files: Any = None  # load_dataset's data_files: a path, a list, or {split: path(s)}
    streaming: bool = False  # read without downloading (or converting) the whole dataset first
    cache_dir: str | None = None  # the library's cache; null: its default ($HF_HOME, ~/.cache/huggingface)
    fingerprint: str | None = None  # the train split's hash of its data; null: the one found, then pinned


def where(cfg: DictConfig) -> str:
    return f"Hugging Face dataset {cfg.name}"


def library():
    """The `datasets` module, imported without its start-up log line and with its progress bars off (they
    would bury training's log; data.prepare's own lines say what is prepared)."""
    import logging

    logging.getLogger("datasets").setLevel(logging.WARNING)
    import datasets

    datasets.disable_progress_bars()
    return datasets


@contextlib.contextmanager
def hub_offline(offline: bool):
    """The hub unreachable while `offline` (training reads what is here; only data.prepare downloads)."""
    import huggingface_hub.constants as hub

    datasets = library()

    saved = (os.environ.get("HF_HUB_OFFLINE"), datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE)
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        datasets.config.HF_HUB_OFFLINE = hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if saved[0] is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved[0]
        datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE = saved[1], saved[2]


_OPENED: dict[str, Any] = {}


def opened(cfg: DictConfig, download: bool = False) -> dict[str, Any]:
    """The dataset's splits, `{split: Dataset or IterableDataset}`, or one line saying why not."""
    datasets = library()

    key = repr([OmegaConf.to_container(cfg, resolve=True).get(k) for k in (
        "name", "subset", "revision", "data_files", "streaming", "cache_dir")] + [download])
    if key in _OPENED:
        return _OPENED[key]
    path = Path(str(cfg.name)).expanduser()
    data_files = OmegaConf.to_container(cfg.data_files) if isinstance(cfg.data_files, DictConfig) or (
        OmegaConf.is_list(cfg.data_files)) else cfg.data_files
    try:
        if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
            loaded = datasets.load_from_disk(str(path))
        else:
            name, files = str(cfg.name), data_files
            if path.is_file():  # one data file: its format's loader
                if path.suffix.lower() not in FILE_FORMATS:
                    raise UserError(f"dataset.name={cfg.name}: a data file must be one of "
                                    f"{', '.join(sorted(FILE_FORMATS))}")
                name, files = FILE_FORMATS[path.suffix.lower()], {"train": str(path)}
            options = {"sep": "\t"} if path.suffix.lower() == ".tsv" else {}  # the csv loader, tab-separated
            with hub_offline(not download):
                loaded = datasets.load_dataset(name, cfg.get("subset"), data_files=files, revision=cfg.get("revision"),
                                               cache_dir=cfg.get("cache_dir"), streaming=bool(cfg.streaming),
                                               **options)
    except UserError:
        raise
    except (ConnectionError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as error:
        hint = ("" if download else f"; if it is a hub dataset, download it first: `python -m data.prepare huggingface "
                f"name={cfg.name}` (where the hub can be reached)")
        raise UserError(f"dataset.name={cfg.name}: not a folder of save_to_disk, not data files here, and not in "
                        f"the local Hugging Face cache ({first_line(error)}){hint}") from None
    except (ValueError, TypeError, OSError, KeyError) as error:  # unreadable files, a bad subset or revision
        raise UserError(f"{where(cfg)} could not be read: {first_line(error)}") from None
    splits = dict(loaded) if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)) else {
        "train": loaded}
    _OPENED[key] = splits
    return splits


def column(name: str, feature: Any, first: Any) -> Column:
    """A `datasets` feature as a Column; `first` reads the column's first value (an image's size)."""
    datasets = library()

    what = type(feature).__name__
    if isinstance(feature, datasets.ClassLabel):
        return Column(name, "class_label", (), "int64", tuple(feature.names), what)
    if isinstance(feature, datasets.Value):
        dtype = str(feature.dtype)
        if dtype in ("string", "large_string"):
            return Column(name, "text", (None,), "string", what=f"Value({dtype})")
        if dtype == "bool" or dtype.startswith(("int", "uint", "float")):
            return Column(name, "tensor", (), "bool" if dtype == "bool" else dtype.replace("float16", "float32"),
                          what=f"Value({dtype})")
        return Column(name, "unsupported", what=f"Value({dtype})")
    if isinstance(feature, datasets.Image):  # its size is the first image's (a varying one is refused when read)
        shape = np.asarray(first()).shape
        return Column(name, "image", (*shape, 1) if len(shape) == 2 else shape, "uint8", what=what)
    if isinstance(feature, (datasets.Array2D, datasets.Array3D, datasets.Array4D, datasets.Array5D)):
        return Column(name, "tensor", tuple(feature.shape), str(feature.dtype), what=what)
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        shape: list[int | None] = []
        inner = feature
        while isinstance(inner, (datasets.List, datasets.LargeList)):
            length = getattr(inner, "length", -1)
            shape.append(None if length is None or length < 0 else int(length))
            inner = inner.feature
        if isinstance(inner, datasets.Value) and (str(inner.dtype) == "bool" or str(inner.dtype).startswith(
                ("int", "uint", "float"))):
            return Column(name, "tensor", tuple(shape), str(inner.dtype), what=f"List of Value({inner.dtype})")
        return Column(name, "unsupported", what=f"List of {type(inner).__name__}")
    return Column(name, "unsupported", what=what)  # Audio, Video, Translation, nested dicts


def columns(cfg: DictConfig, splits: dict[str, Any] | None = None) -> dict[str, Column]:
    splits = splits or opened(cfg)
    train = splits.get("train") or next(iter(splits.values()))
    features = train.features
    if features is None:  # a streamed dataset whose files do not say: resolved from its first rows
        train = train._resolve_features()  # noqa: SLF001 -- the library's own way to learn them
        features = train.features

    def first(name: str):
        if hasattr(train, "num_rows"):
            return lambda: train[0][name]
        return lambda: next(iter(train.select_columns([name]).take(1)))[name]

    found = {name: column(name, feature, first(name)) for name, feature in features.items()}
    return {name: _with_class_indices(cfg, splits, c) for name, c in found.items()}


def _with_class_indices(cfg: DictConfig, splits: dict[str, Any], found: Column) -> Column:
    """An integer label column without class names gets names 0..max from its values (a table's labels),
    if the config does not set `dataset.num_classes` and the splits are not streamed."""
    if found.name != (cfg.get("label") or "label") or found.kind != "tensor" or found.shape != () or (
            found.dtype[:3] not in ("int", "uin")) or cfg.get("num_classes") or cfg.streaming:
        return found
    import pyarrow.compute as pc

    lows, highs = zip(*[(lambda m: (m["min"].as_py(), m["max"].as_py()))(pc.min_max(split.data.column(found.name)))
                        for split in splits.values()], strict=True)
    if min(lows) is None:
        return found
    if min(lows) < 0:
        raise UserError(f"the label {found.name} of {where(cfg)} has values from {min(lows)}: class indices are "
                        ">= 0 (drop the unlabelled rows, or set dataset.label to another column)")
    return Column(found.name, found.kind, (), found.dtype, tuple(str(i) for i in range(int(max(highs)) + 1)),
                  found.what)


def complete_config(cfg: DictConfig) -> None:
    try:
        splits = opened(cfg)
    except UserError:
        if is_pinned(cfg, "fingerprint"):
            return  # a recorded run's config: infer and export need no copy; evaluate reads the prepared shards
        raise
    with open_dict(cfg):
        complete(cfg, columns(cfg, splits), list(splits), where(cfg))
        mapping = split_mapping(cfg, list(splits), where(cfg))
        found = getattr(splits[mapping["train"]], "_fingerprint", None)
        pin(cfg, "fingerprint", found, f"{where(cfg)} has changed since this config pinned it: its train split's "
            f"fingerprint is {found}, the config's dataset.fingerprint={cfg.get('fingerprint')}; use the data the "
            "run had, or start a new run")


def fetch(cfg: DictConfig, download: bool) -> None:
    opened(cfg, download)


def load(cfg: DictConfig, files: dict[str, Path]) -> dict:
    splits = opened(cfg)
    found = {name: resized_column(cfg, c) for name, c in columns(cfg, splits).items()}
    mapping = split_mapping(cfg, list(splits), where(cfg))
    images = {name for name, c in found.items() if c.kind == "image"}

    def read(split: str, wanted: list[str], labels_only: bool) -> Iterator[dict]:
        data = splits[split].select_columns(wanted)
        ragged = [name for name in wanted if found[name].kind == "tensor" and None in found[name].shape]
        for batch in data.iter(batch_size=CHUNK_EXAMPLES):
            out = {}
            for name, values in batch.items():
                if name in images:
                    out[name] = _images(values, found[name], cfg)
                elif found[name].kind == "text":
                    out[name] = np.array(values, dtype=object)
                elif name in ragged:
                    out[name] = object_array([np.asarray(value, dtype=found[name].dtype) for value in values])
                else:
                    out[name] = np.asarray(values)
            yield out

    return readers(cfg, mapping, read, found)


def _images(values: list, found: Column, cfg: DictConfig) -> np.ndarray:
    """A chunk of decoded images (PIL images) as one uint8 array, each resized to `dataset.image_size`."""
    from PIL import Image

    size = cfg.get("image_size")
    arrays = []
    for value in values:
        if size and isinstance(value, Image.Image) and value.size != (int(size[1]), int(size[0])):
            value = value.resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR, reducing_gap=None)
        array = np.asarray(value)
        array = array[..., None] if array.ndim == 2 else array
        if array.shape != found.shape:
            raise UserError(f"an image of column {found.name} of {where(cfg)} is {list(array.shape)}, the first is "
                            f"{list(found.shape)}: set dataset.image_size=[height,width] to resize them when prepared")
        arrays.append(array)
    return np.stack(arrays).astype("uint8")


def class_names(cfg: DictConfig) -> list[str]:
    return ecosystem.class_names(cfg, columns(cfg))


def described(cfg: DictConfig) -> dict:
    datasets = library()

    splits = opened(cfg)
    return {"library": "datasets", "library_version": datasets.__version__, "name": str(cfg.name),
            "subset": cfg.get("subset"), "revision": cfg.get("revision"), "fingerprint": cfg.get("fingerprint"),
            "location": str(Path(str(cfg.name)).expanduser().resolve()) if Path(str(cfg.name)).expanduser().exists()
            else "the Hugging Face hub cache", "splits": {name: _rows(split) for name, split in splits.items()}}


def _rows(split: Any) -> int | None:
    return getattr(split, "num_rows", None)


SOURCE = Source(load, schema=HuggingFaceDatasetConfig, parametric=True, class_names_of=class_names,
                complete=complete_config, fetch=fetch, described=described)
