"""TensorFlow Datasets by builder name: `dataset=tfds dataset.name=<builder>[/<config>][:<version>]`.

The builder's copy lives where TFDS keeps it (`dataset.tfds_dir`, default `$TFDS_DATA_DIR` or
`~/tensorflow_datasets`); `python -m data.prepare tfds name=<builder>` has TFDS download and prepare it
there (`download_and_prepare`, files placed by hand in `dataset.manual_dir` for builders that need them),
then converts its splits once into this project's shards, as every dataset here is read. The builder's
feature dictionary says what the input and the label are (`data.ecosystem`); its version is pinned in the
run's config (`dataset.version`) and recorded with its location in the prepared folder's manifest.

A TFDS folder names the Python classes of its features in `features.json`, and TFDS imports any module
named there: a folder is read only if every class it names is one of TFDS's own (a run folder of someone
else's, pointing at a TFDS folder of theirs, then imports nothing new).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, open_dict

from conf.errors import ConfigError, UserError, first_line
from data import ecosystem
from data.ecosystem import (Column, ExternalDatasetConfig, closest, complete, is_pinned, object_array, pin,
                            readers, removing_created, split_mapping)
from data.sources import CHUNK_EXAMPLES, Source, prepare_command

TRUSTED_CLASSES = "tensorflow_datasets."


@dataclass
class TfdsDatasetConfig(ExternalDatasetConfig):
    source: str = "tfds"
    tfds_dir: str | None = None  # null: TFDS's own default ($TFDS_DATA_DIR, else ~/tensorflow_datasets)
    manual_dir: str | None = None  # files placed by hand for builders that need them; null: <tfds_dir>/downloads/manual
    version: str | None = None  # null: the version found, written into the run's config (name:version also sets it)


def library():
    """The `tensorflow_datasets` module, with its INFO lines (every builder it tries, every file it opens)
    kept out of the job's log; its warnings and errors still show."""
    import logging

    logging.getLogger("absl").setLevel(logging.WARNING)
    import tensorflow_datasets

    return tensorflow_datasets


def tfds_dir(cfg: DictConfig) -> Path:
    return Path(cfg.get("tfds_dir") or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


def builder_name(cfg: DictConfig) -> str:
    """`builder[/config]:version` as TFDS takes it, the version from the name or from `dataset.version`."""
    name, _, version = str(cfg.name).partition(":")
    if version and cfg.get("version") and version != cfg.version:
        raise ConfigError(f"dataset.version={cfg.version} is invalid: dataset.name={cfg.name} names version {version}")
    version = version or cfg.get("version")
    return f"{name}:{version}" if version else name


def _check_feature_classes(root: Path, name: str) -> None:
    """Refuse a prepared folder whose features.json names a class outside TFDS (which TFDS would import)."""
    folder = root / name.partition(":")[0]
    if not folder.is_dir():
        return
    for path in folder.rglob("features.json"):
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):
            raise UserError(f"{path} is not readable JSON: the TFDS folder is damaged; prepare it again") from None
        stack = [content]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("pythonClassName", "type") and isinstance(value, str) and "." in value and (
                            not value.startswith(TRUSTED_CLASSES)):
                        raise UserError(f"{path} names the feature class {value}, which is not one of TensorFlow "
                                        "Datasets' own: this project does not import it")
                    stack.append(value)
            elif isinstance(node, list):
                stack.extend(node)


def prepared_folder(root: Path, name: str) -> Path | None:
    """`<root>/<builder>[/<config>]/<version>`, the newest version when the name gives none, if TFDS prepared
    it there (its dataset_info.json); None otherwise."""
    base, _, version = name.partition(":")
    folder = root / base
    if version:
        return folder / version if (folder / version / "dataset_info.json").is_file() else None
    found = [path.parent for path in folder.glob("*/dataset_info.json")
             if all(part.isdigit() for part in path.parent.name.split("."))]
    return max(found, key=lambda path: tuple(int(part) for part in path.name.split(".")), default=None)


def builder(cfg: DictConfig):
    """The TFDS builder of `cfg`, or one line: an unknown name lists close ones. A copy prepared in
    `tfds_dir` is read from its folder alone (TFDS's read-only builder: a dataset of one's own needs no
    builder code, and nothing is fetched); otherwise the registered builder of that name, which knows
    its features before it is prepared. Nothing here reaches the network (TFDS's community catalogue and
    its cloud copies are not consulted)."""
    tfds = library()

    name, root = builder_name(cfg), tfds_dir(cfg)
    _check_feature_classes(root, name)
    try:
        local = prepared_folder(root, name)
        if local is not None:
            return tfds.builder_from_directory(str(local))
        base = name.partition(":")[0].partition("/")[0]
        known = tfds.list_builders(with_community_datasets=False)
        if base not in known:
            here = sorted({p.parent.parent.name for p in root.glob("*/*/dataset_info.json")} |
                          {p.parent.parent.parent.name for p in root.glob("*/*/*/dataset_info.json")})
            raise UserError(f"dataset.name={cfg.name}: TensorFlow Datasets has no builder {base} and none is "
                            f"prepared in {root} (dataset.tfds_dir){closest(base, [*known, *here])}")
        return tfds.builder(name, data_dir=str(root), try_gcs=False)
    except UserError:
        raise
    except Exception as error:  # an unknown config or version, a damaged folder: TFDS's types vary
        raise UserError(f"dataset.name={cfg.name} (in {root}): {first_line(error)}") from None


def column(name: str, feature: Any) -> Column:
    """A TFDS feature as a Column."""
    from tensorflow_datasets import features as f

    what = type(feature).__name__
    if isinstance(feature, f.ClassLabel):
        return Column(name, "class_label", (), "int64", tuple(feature.names), what)
    if isinstance(feature, f.Text) or isinstance(feature, f.Tensor) and feature.np_dtype == np.object_:
        return Column(name, "text", (None,), "string", what=what)
    if isinstance(feature, f.Image):
        return Column(name, "image", tuple(feature.shape), "uint8", what=what)
    if isinstance(feature, (f.Video, f.Audio, f.BBoxFeature, f.FeaturesDict, f.Dataset)):
        return Column(name, "unsupported", what=what)
    if isinstance(feature, f.Sequence) and isinstance(feature.feature, f.Tensor) and not isinstance(
            feature.feature, (f.Text, f.Audio, f.BBoxFeature)) and feature.feature.np_dtype != np.object_:
        length = None if feature._length is None else int(feature._length)  # noqa: SLF001 -- TFDS keeps it there
        return Column(name, "tensor", (length, *feature.feature.shape), np.dtype(feature.feature.np_dtype).name,
                      what=f"Sequence of {type(feature.feature).__name__}")
    if isinstance(feature, f.Tensor):
        return Column(name, "tensor", tuple(feature.shape), np.dtype(feature.np_dtype).name, what=what)
    return Column(name, "unsupported", what=what)


def columns(b) -> dict[str, Column]:
    """The features of builder `b` as Columns."""
    return {name: column(name, feature) for name, feature in b.info.features.items()}


def where(cfg: DictConfig) -> str:
    return f"TFDS dataset {cfg.name}"


def complete_config(cfg: DictConfig) -> None:
    try:
        b = builder(cfg)
    except UserError:
        if is_pinned(cfg, "version"):
            return  # a recorded run's config: infer and export need no copy; evaluate reads the prepared shards
        raise
    with open_dict(cfg):
        pin(cfg, "version", str(b.info.version), f"dataset.version={cfg.get('version')}: {where(cfg)} in "
            f"{tfds_dir(cfg)} is version {b.info.version}")
        complete(cfg, columns(b), list(b.info.splits.keys()) or ["train", "test"], where(cfg))


def fetch(cfg: DictConfig, download: bool) -> None:
    """Have TFDS prepare the builder's copy if it is not there (only with `download`)."""
    tfds = library()

    if prepared_folder(tfds_dir(cfg), builder_name(cfg)) is not None:
        return
    b = builder(cfg)  # a registered builder, not prepared here
    manual = Path(cfg.manual_dir).expanduser() if cfg.get("manual_dir") else tfds_dir(cfg) / "downloads" / "manual"
    needs_manual = bool(getattr(b, "MANUAL_DOWNLOAD_INSTRUCTIONS", None))
    instructions = " ".join(str(getattr(b, "MANUAL_DOWNLOAD_INSTRUCTIONS", "")).split())
    placed = f"; it needs files placed by hand in {manual} (dataset.manual_dir): " + (
        instructions if len(instructions) <= 300 else instructions[:300] + "...") if needs_manual else ""
    if not download:
        raise UserError(f"{where(cfg)} is not prepared in {tfds_dir(cfg)}: run `{prepare_command(cfg)}` (TFDS "
                        f"downloads and prepares it){placed}")
    try:
        root, base = tfds_dir(cfg), name_folder(cfg)
        with removing_created(root / "downloads" / "extracted", root / "downloads" / base.partition("/")[0],
                              root / base):
            b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    except Exception as error:  # no network, a missing manual file, a failed checksum: TFDS's types vary
        raise UserError(f"TensorFlow Datasets could not prepare {cfg.name} in {tfds_dir(cfg)}: "
                        f"{' '.join(str(error).split())[:600] or type(error).__name__}{placed}") from None


def name_folder(cfg: DictConfig) -> str:
    """The builder's folder in tfds_dir: `<builder>[/<config>]`."""
    return str(cfg.name).partition(":")[0]


def load(cfg: DictConfig, files: dict[str, Path]) -> dict:
    import tensorflow as tf
    tfds = library()

    b = builder(cfg)
    info = b.info
    found = columns(b)
    mapping = split_mapping(cfg, list(info.splits.keys()), where(cfg))

    def read(split: str, wanted: list[str], labels_only: bool) -> Iterator[dict]:
        skipped = {name: tfds.decode.SkipDecoding() for name in info.features
                   if name not in wanted and found[name].kind == "image"}
        data = b.as_dataset(split=split, shuffle_files=False, decoders=skipped or None)
        size = cfg.get("image_size")
        resized = [name for name in wanted if found[name].kind == "image" and size]

        def chosen(example):
            out = {name: example[name] for name in wanted}
            for name in resized:  # bilinear, with antialiasing when shrinking, rounded back to pixels
                image = tf.image.resize(out[name], [int(size[0]), int(size[1])], antialias=True)
                out[name] = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
            return out

        data = data.map(chosen)
        if any(found[name].shape[:1] == (None,) for name in wanted if found[name].kind == "tensor"):
            batch: dict[str, list] = {name: [] for name in wanted}  # sequences of any length: gathered one by one
            for example in tfds.as_numpy(data):
                for name in wanted:
                    batch[name].append(example[name])
                if len(batch[wanted[0]]) == CHUNK_EXAMPLES:
                    yield {name: object_array(values) for name, values in batch.items()}
                    batch = {name: [] for name in wanted}
            if batch[wanted[0]]:
                yield {name: object_array(values) for name, values in batch.items()}
            return
        yield from tfds.as_numpy(data.batch(CHUNK_EXAMPLES))

    return readers(cfg, mapping, read, found)


def class_names(cfg: DictConfig) -> list[str]:
    return ecosystem.class_names(cfg, columns(builder(cfg)))


def described(cfg: DictConfig) -> dict:
    tfds = library()

    b = builder(cfg)
    return {"library": "tensorflow_datasets", "library_version": tfds.__version__, "builder": b.info.full_name,
            "version": str(b.info.version), "data_dir": str(b.data_dir),
            "splits": {name: int(split.num_examples) for name, split in b.info.splits.items()}}


SOURCE = Source(load, schema=TfdsDatasetConfig, parametric=True, class_names_of=class_names,
                complete=complete_config, fetch=fetch, described=described)
