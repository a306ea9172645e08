"""Texts and their labels in one file: `.csv` (a header row naming the columns) or `.jsonl` (one JSON object
per line), with the column names given in the config. Labels are class names (strings, classes in sorted
order) or class indices (integers from 0). `test_path` may give an official test file of the same form;
otherwise the examples are split three ways."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conf.errors import UserError
from conf.schema import DatasetConfig, require
from data.sources import Source, from_arrays
from data.text import decoded

SUFFIXES = (".csv", ".jsonl")


@dataclass
class TextFileConfig(DatasetConfig):
    path: str = "???"
    test_path: str | None = None  # an official test split in a file of the same form
    text_column: str = "text"
    label_column: str = "label"
    name: str = "text_file"

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("path", "test_path"):
            value = getattr(self, key)
            require(value is None or Path(value).suffix.lower() in SUFFIXES, f"dataset.{key}", value,
                    f"a {' or '.join(SUFFIXES)} file")


def read_rows(path: Path, cfg) -> tuple[list[str], list]:
    """The texts and labels of one file, checked: every row has both columns, every text is a string."""
    if not path.is_file():
        raise UserError(f"dataset.path={path}: no such file")
    content = decoded(path.read_bytes(), str(path))
    texts, labels = [], []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(content, newline=""))
        missing = [c for c in (cfg.text_column, cfg.label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path} has no column {missing[0]!r} (its header: {', '.join(reader.fieldnames or [])}); "
                            f"set dataset.text_column and dataset.label_column")
        for row in reader:
            texts.append(row[cfg.text_column])
            labels.append(row[cfg.label_column])
    else:
        for number, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise UserError(f"{path}, line {number}: not JSON ({error.msg})") from None
            if not isinstance(row, dict) or not {cfg.text_column, cfg.label_column} <= set(row):
                raise UserError(f"{path}, line {number}: a JSON object with {cfg.text_column!r} and "
                                f"{cfg.label_column!r} is expected")
            if not isinstance(row[cfg.text_column], str):
                raise UserError(f"{path}, line {number}: {cfg.text_column!r} is not a string")
            texts.append(row[cfg.text_column])
            labels.append(row[cfg.label_column])
    if not texts:
        raise UserError(f"{path} holds no example")
    return texts, labels


def _files(cfg) -> dict[str, Path]:
    paths = {"train" if cfg.test_path else "all": Path(cfg.path).expanduser().resolve()}
    if cfg.test_path:
        paths["test"] = Path(cfg.test_path).expanduser().resolve()
    return paths


def class_names(cfg) -> list[str]:
    """Sorted distinct labels of the train file (class indices: "0", "1", ...)."""
    labels = read_rows(next(iter(_files(cfg).values())), cfg)[1]
    if all(isinstance(label, int) and not isinstance(label, bool) for label in labels):
        return [str(i) for i in range(max(labels) + 1)]
    return sorted({str(label) for label in labels})


def load_text_file(cfg, files):
    names = class_names(cfg)
    parts = {}
    for part, path in _files(cfg).items():
        texts, labels = read_rows(path, cfg)
        known = {name: index for index, name in enumerate(names)}
        unknown = next((label for label in labels if str(label) not in known), None)
        if unknown is not None:
            raise UserError(f"{path} has label {unknown!r}, which the train file does not have ({', '.join(names)})")
        if len(names) != cfg.num_classes:
            raise UserError(f"dataset.num_classes={cfg.num_classes}, but {path} has {len(names)} classes "
                            f"({', '.join(names[:10])}): set dataset.num_classes={len(names)}")
        parts[part] = from_arrays(np.array(texts, dtype=object),
                                  np.array([known[str(label)] for label in labels], dtype="int64"))
    return parts


SOURCE = Source(load_text_file, schema=TextFileConfig, parametric=True, class_names_of=class_names)
