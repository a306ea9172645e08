"""A prepared split on disk: shards of records that `tf.data` streams natively.

Array datasets (`RecordLayout`): each record is one example, its features in their stored dtype
(images stay `uint8`), then its target, both little-endian, with no framing.
`tf.data.FixedLengthRecordDataset` reads them with no parsing, so the input pipeline costs next to
nothing, and `numpy` reads them as well (`read_split`), so preparation and tests need no TensorFlow. Image folders (`ImagePathLayout`):
each record is a text line `label<TAB>path`, read by `tf.data.TextLineDataset`, and the image is
decoded and resized in the pipeline. Writers stream: a dataset larger than memory is written
example chunk by example chunk, and each shard's SHA-256 is computed as it is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SHARD_BYTES = 64 << 20  # a shard's size: large enough to read fast, small enough to interleave well


@dataclass(frozen=True)
class RecordLayout:
    """How one example is laid out in a record: features, then target."""

    x_dtype: str
    x_shape: tuple[int, ...]
    y_dtype: str
    y_shape: tuple[int, ...] = ()

    @property
    def x_bytes(self) -> int:
        return int(np.prod(self.x_shape, dtype=np.int64)) * np.dtype(self.x_dtype).itemsize

    @property
    def y_bytes(self) -> int:
        return int(np.prod(self.y_shape, dtype=np.int64)) * np.dtype(self.y_dtype).itemsize

    @property
    def record_bytes(self) -> int:
        return self.x_bytes + self.y_bytes

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "x_dtype": self.x_dtype, "x_shape": list(self.x_shape),
                "y_dtype": self.y_dtype, "y_shape": list(self.y_shape), "record_bytes": self.record_bytes}

    format = "records"

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> RecordLayout | ImagePathLayout | FieldsLayout:
        if entry.get("format") == ImagePathLayout.format:
            return ImagePathLayout(tuple(int(d) for d in entry["x_shape"]))
        if entry.get("format") == FieldsLayout.format:
            return FieldsLayout.from_dict(entry)
        if entry.get("format") == SequenceLayout.format:
            return SequenceLayout.from_dict(entry)
        return cls(str(entry["x_dtype"]), tuple(int(d) for d in entry["x_shape"]), str(entry["y_dtype"]),
                   tuple(int(d) for d in entry["y_shape"]))

    def encode(self, x: np.ndarray, y: np.ndarray) -> bytes:
        """The records of a chunk of examples, as one block of bytes."""
        count = len(x)
        xs = np.ascontiguousarray(x, dtype=np.dtype(self.x_dtype).newbyteorder("<")).reshape(count, -1).view(np.uint8)
        ys = np.ascontiguousarray(y, dtype=np.dtype(self.y_dtype).newbyteorder("<")).reshape(count, -1).view(np.uint8)
        return np.concatenate([xs.reshape(count, -1), ys.reshape(count, -1)], axis=1).tobytes()

    def decode(self, block: bytes | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        records = np.frombuffer(block, dtype=np.uint8).reshape(-1, self.record_bytes)
        x = records[:, :self.x_bytes].copy().view(np.dtype(self.x_dtype).newbyteorder("<"))
        y = records[:, self.x_bytes:].copy().view(np.dtype(self.y_dtype).newbyteorder("<"))
        return (x.reshape(len(records), *self.x_shape).astype(self.x_dtype),
                y.reshape(len(records), *self.y_shape).astype(self.y_dtype))


@dataclass(frozen=True)
class ImagePathLayout:
    """Image-folder records: a line `label<TAB>absolute path` per image, decoded to `x_shape` in the pipeline."""

    x_shape: tuple[int, ...]
    format = "image_paths"
    x_dtype = "uint8"
    y_dtype = "int64"
    y_shape: tuple[int, ...] = ()
    record_bytes = 256  # a typical line, only to size shards

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "x_dtype": self.x_dtype, "x_shape": list(self.x_shape),
                "y_dtype": self.y_dtype, "y_shape": []}

    def encode(self, x: np.ndarray, y: np.ndarray) -> bytes:
        return "".join(f"{int(label)}\t{path}\n" for path, label in zip(x, y)).encode()

    def decode(self, block: bytes) -> tuple[np.ndarray, np.ndarray]:
        rows = [line.split("\t", 1) for line in block.decode().splitlines()]
        return np.array([path for _, path in rows]), np.array([int(label) for label, _ in rows], dtype="int64")


Field = tuple[str, str, tuple[int, ...]]  # name, dtype, shape of one example's value


@dataclass(frozen=True)
class FieldsLayout:
    """Records of named fields (a dataset of several inputs or targets): each example's features, then its
    targets, in the order given, each in its stored dtype, little-endian, with no framing."""

    features: tuple[Field, ...]
    targets: tuple[Field, ...]
    format = "fields"

    def fields(self) -> list[tuple[str, str, tuple[int, ...], int, int]]:
        """(name, dtype, shape, byte offset, bytes) of every field, features first."""
        placed, offset = [], 0
        for name, dtype, shape in (*self.features, *self.targets):
            size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            placed.append((name, dtype, shape, offset, size))
            offset += size
        return placed

    @property
    def record_bytes(self) -> int:
        return sum(field[4] for field in self.fields())

    def as_dict(self) -> dict[str, Any]:
        def listed(fields):
            return [{"name": name, "dtype": dtype, "shape": list(shape)} for name, dtype, shape in fields]

        return {"format": self.format, "features": listed(self.features), "targets": listed(self.targets),
                "record_bytes": self.record_bytes}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> FieldsLayout:
        def read(fields):
            return tuple((str(f["name"]), str(f["dtype"]), tuple(int(d) for d in f["shape"])) for f in fields)

        return cls(read(entry["features"]), read(entry["targets"]))

    def encode(self, x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> bytes:
        values = {**x, **y}
        count = len(next(iter(values.values())))
        columns = [np.ascontiguousarray(values[name], dtype=np.dtype(dtype).newbyteorder("<")).reshape(count, -1)
                   .view(np.uint8).reshape(count, -1) for name, dtype, _ in (*self.features, *self.targets)]
        return np.concatenate(columns, axis=1).tobytes()

    def decode(self, block: bytes | np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        records = np.frombuffer(block, dtype=np.uint8).reshape(-1, self.record_bytes)
        values = {name: records[:, offset:offset + size].copy().view(np.dtype(dtype).newbyteorder("<"))
                  .reshape(len(records), *shape).astype(dtype) for name, dtype, shape, offset, size in self.fields()}
        return ({name: values[name] for name, _, _ in self.features},
                {name: values[name] for name, _, _ in self.targets})


@dataclass(frozen=True)
class SequenceLayout:
    """Records of variable length (text, or steps x channels): TFRecord files of `tf.train.Example`s, each with
    feature `x` (the UTF-8 text, or the values of every step, flattened) and target `y`. `tf.data` reads them
    natively (`TFRecordDataset`, `parse_example` into ragged tensors)."""

    x_dtype: str  # string | int64 | float32
    channels: int | None  # None: one value (or one text) per example, [null]; else [null, channels]
    y_dtype: str
    y_shape: tuple[int, ...] = ()
    format = "sequences"
    record_bytes = 1  # shards are cut by their bytes, not by a record count

    @property
    def x_shape(self) -> tuple[int | None, ...]:
        return (None,) if self.channels is None else (None, self.channels)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "x_dtype": self.x_dtype, "x_shape": list(self.x_shape),
                "y_dtype": self.y_dtype, "y_shape": list(self.y_shape)}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> SequenceLayout:
        shape = list(entry["x_shape"])
        return cls(str(entry["x_dtype"]), None if len(shape) == 1 else int(shape[1]), str(entry["y_dtype"]),
                   tuple(int(d) for d in entry["y_shape"]))

    def encode(self, x, y: np.ndarray) -> list[bytes]:
        """Each example of a chunk as a serialised `tf.train.Example`."""
        import tensorflow as tf

        train = tf.train
        records = []
        for value, target in zip(x, np.asarray(y).reshape(len(y), -1), strict=True):
            if self.x_dtype == "string":
                feature = train.Feature(bytes_list=train.BytesList(value=[str(value).encode("utf-8")]))
            elif self.x_dtype == "int64":
                feature = train.Feature(int64_list=train.Int64List(value=np.asarray(value, "int64").ravel()))
            else:
                feature = train.Feature(float_list=train.FloatList(value=np.asarray(value, "float32").ravel()))
            label = (train.Feature(int64_list=train.Int64List(value=target.astype("int64")))
                     if self.y_dtype in ("int64", "uint8") else
                     train.Feature(float_list=train.FloatList(value=target.astype("float32"))))
            records.append(train.Example(features=train.Features(feature={"x": feature, "y": label}))
                           .SerializeToString())
        return records

    def parse(self, records):
        """A batch of serialised records -> (x, y): x a tf.string vector (text) or a RaggedTensor
        [batch, None(, channels)] in the stored dtype, y dense."""
        import tensorflow as tf

        x_spec = (tf.io.FixedLenFeature([], tf.string) if self.x_dtype == "string"
                  else tf.io.RaggedFeature(tf.int64 if self.x_dtype == "int64" else tf.float32))
        y_dtype = tf.int64 if self.y_dtype in ("int64", "uint8") else tf.float32
        parsed = tf.io.parse_example(records, {"x": x_spec, "y": tf.io.FixedLenFeature(self.y_shape, y_dtype)})
        x, y = parsed["x"], tf.cast(parsed["y"], self.y_dtype)
        if self.channels is not None:
            x = tf.RaggedTensor.from_row_lengths(tf.reshape(x.flat_values, [-1, self.channels]),
                                                 x.row_lengths() // self.channels)
        return x, y


def take(values: np.ndarray | dict[str, np.ndarray], index) -> np.ndarray | dict[str, np.ndarray]:
    """`values[index]`, field by field for a dict of named fields."""
    return {name: value[index] for name, value in values.items()} if isinstance(values, dict) else values[index]


def count_of(values: np.ndarray | dict[str, np.ndarray]) -> int:
    return len(next(iter(values.values()))) if isinstance(values, dict) else len(values)


class SplitWriter:
    """Appends examples to `<folder>/<split>/shard-NNNNN.rec` files of about SHARD_BYTES each.

    `close()` returns the split's manifest entry: count and, per shard, file, count, bytes, SHA-256.
    """

    def __init__(self, folder: Path, split: str, layout: RecordLayout | ImagePathLayout | FieldsLayout,
                 shard_bytes: int | None = None) -> None:
        self.directory = Path(folder) / split
        self.directory.mkdir(parents=True, exist_ok=True)
        self.split, self.layout, self.shard_bytes = split, layout, shard_bytes
        self.per_shard = max(1, (shard_bytes or SHARD_BYTES) // layout.record_bytes)
        self.shards: list[dict[str, Any]] = []
        self.handle = None
        self.digest = hashlib.sha256()
        self.in_shard = 0

    def _open_next(self) -> None:
        self._close_shard()
        suffix = {ImagePathLayout.format: "txt", SequenceLayout.format: "tfrecord"}.get(self.layout.format, "rec")
        name = f"shard-{len(self.shards):05d}.{suffix}"
        if isinstance(self.layout, SequenceLayout):
            import tensorflow as tf

            self.handle = tf.io.TFRecordWriter(str(self.directory / name))
        else:
            self.handle = open(self.directory / name, "wb")
        self.shards.append({"file": f"{self.split}/{name}", "count": 0, "bytes": 0})
        self.digest, self.in_shard = hashlib.sha256(), 0

    def _close_shard(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
            if isinstance(self.layout, SequenceLayout):  # TensorFlow frames the records: hashed as written to disk
                path = self.directory.parent / self.shards[-1]["file"]
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        self.digest.update(block)
                self.shards[-1]["bytes"] = path.stat().st_size
            self.shards[-1]["sha256"] = self.digest.hexdigest()

    def write(self, x: np.ndarray | dict[str, np.ndarray], y: np.ndarray | dict[str, np.ndarray]) -> None:
        if isinstance(self.layout, SequenceLayout):
            return self._write_records(self.layout.encode(x, y))
        start, total = 0, count_of(x)
        while start < total:
            if self.handle is None or self.in_shard == self.per_shard:
                self._open_next()
            size = min(self.per_shard - self.in_shard, total - start)
            block = self.layout.encode(take(x, slice(start, start + size)), take(y, slice(start, start + size)))
            self.handle.write(block)
            self.digest.update(block)
            self.in_shard += size
            self.shards[-1]["count"] += size
            self.shards[-1]["bytes"] += len(block)
            start += size

    def _write_records(self, records: list[bytes]) -> None:
        for record in records:
            if self.handle is None or self.shards[-1]["bytes"] >= (self.shard_bytes or SHARD_BYTES):
                self._open_next()
            self.handle.write(record)
            self.shards[-1]["count"] += 1
            self.shards[-1]["bytes"] += len(record) + 16  # framing: length, its CRC, the record's CRC

    def close(self) -> dict[str, Any]:
        self._close_shard()
        return {"count": sum(s["count"] for s in self.shards), "shards": self.shards}


def read_split(folder: Path, entry: dict[str, Any], layout: RecordLayout | ImagePathLayout | FieldsLayout
               ) -> tuple[np.ndarray, np.ndarray]:
    """A whole split in memory with numpy (tests, small datasets, statistics): features and targets (dicts of
    them, by name, for a dataset of named fields)."""
    if isinstance(layout, SequenceLayout):
        return read_sequences([str(Path(folder) / shard["file"]) for shard in entry["shards"]], layout)
    blocks = [(Path(folder) / shard["file"]).read_bytes() for shard in entry["shards"]]
    if not blocks and isinstance(layout, FieldsLayout):
        return layout.decode(b"")
    if not blocks:
        return np.zeros((0, *layout.x_shape), layout.x_dtype), np.zeros((0, *layout.y_shape), layout.y_dtype)
    if isinstance(layout, ImagePathLayout):
        return layout.decode(b"".join(blocks))
    return layout.decode(b"".join(blocks))


def parsed_batches(files: list[str], layout: SequenceLayout, size: int = 4096):
    """Sequence shards' examples, `size` at a time, parsed as the pipeline parses them: (x, y) tensors."""
    import tensorflow as tf

    for batch in tf.data.TFRecordDataset(files).batch(size) if files else []:
        yield layout.parse(batch)


def read_sequences(files: list[str], layout: SequenceLayout) -> tuple[np.ndarray, np.ndarray]:
    """Every example of sequence shards: an object array of texts (str) or of arrays (steps[, channels]),
    and the targets."""
    texts, values, targets = layout.x_dtype == "string", [], []
    for x, y in parsed_batches(files, layout):
        values.extend(t.decode("utf-8") for t in x.numpy()) if texts else values.extend(
            row.astype(layout.x_dtype) for row in x.numpy())
        targets.append(y.numpy())
    x = np.empty(len(values), dtype=object)
    x[:] = values
    y = np.concatenate(targets) if targets else np.zeros((0, *layout.y_shape), layout.y_dtype)
    return x, y
