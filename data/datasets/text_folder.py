"""A folder of text files, one sub-folder per class (Keras' `text_dataset_from_directory` layout):
`<path>/<class>/*.txt`, or `<path>/{train,val,test}/<class>/*.txt` when the splits are given. Each file is
one example, read as UTF-8 (a file that is not is named with the offset of its first bad byte)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conf.errors import UserError
from conf.schema import DatasetConfig
from data.sources import Source, image_folder_parts
from data.text import decoded

SUFFIXES = (".txt",)


@dataclass
class TextFolderConfig(DatasetConfig):
    path: str = "???"
    name: str = "text_folder"


def _parts(cfg) -> tuple[dict, list[str]]:
    return image_folder_parts(Path(cfg.path).expanduser().resolve(), SUFFIXES, "text file")


def load_text_folder(cfg, files):
    parts, class_names = _parts(cfg)
    if len(class_names) != cfg.num_classes:
        raise UserError(f"dataset.num_classes={cfg.num_classes}, but {cfg.path} has {len(class_names)} class folders "
                        f"({', '.join(class_names[:10])}): set dataset.num_classes={len(class_names)}")

    def reader(classes: dict[str, list[Path]]):
        paths = [f for name in sorted(classes) for f in classes[name]]
        labels = np.array([class_names.index(name) for name in sorted(classes) for _ in classes[name]], dtype="int64")

        def chunks(labels_only: bool = False):
            for start in range(0, len(paths), 1024):  # a thousand files in memory at a time
                chunk = paths[start:start + 1024]
                texts = None if labels_only else np.array([decoded(path.read_bytes(), str(path)) for path in chunk],
                                                          dtype=object)
                yield texts, labels[start:start + len(chunk)]
        return chunks

    return {part: reader(classes) for part, classes in parts.items()}


SOURCE = Source(load_text_folder, schema=TextFolderConfig, parametric=True,
                class_names_of=lambda cfg: _parts(cfg)[1])
