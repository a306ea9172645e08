"""The `tf.data` input pipeline: a prepared split's shards in, normalised batches out, prefetched.

Every epoch's order is a pure function of (seed, epoch), so a run resumed at epoch k sees exactly
the batches it would have seen, and two runs with one seed see the same ones. How well an epoch
is shuffled depends on where the split lives (`dataset.cache`):

- in memory (small splits; `auto` picks it up to MEMORY_BYTES of decoded features): the split is
  read once (texts tokenized once) and each epoch is a full permutation of it, drawn with a stateless
  shuffle;
- streamed from its shards (any size; memory does not grow with the dataset): each epoch reads
  the shards in an order drawn from (seed, epoch), interleaving 16 at a time, and permutes the
  examples within consecutive windows of `dataset.shuffle_window` examples, each window with its
  own stateless seed from (seed, epoch, window). A window as large as the split is a full shuffle; a
  smaller one costs shuffle quality (examples only move within their window, mixed across 16
  shards) and saves memory (a window holds that many raw records).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from omegaconf import OmegaConf

from data.preprocessing import Preprocessing
from data.shards import FieldsLayout, ImagePathLayout, RecordLayout, SequenceLayout

MEMORY_BYTES = 512 << 20  # `cache: auto` keeps a split in memory up to this many bytes of float32 features
INTERLEAVE = 16  # shards read at once when streaming
# The functions tf.data traces hold no Python control flow over tensors, so AutoGraph's conversion
# (a second or two of start-up per run for these few functions) is skipped.
plain = tf.autograph.experimental.do_not_convert


@dataclass(frozen=True)
class SplitSource:
    """What the pipeline needs of one prepared split: its shard files, count and record layout."""

    files: tuple[str, ...]
    count: int
    layout: RecordLayout | ImagePathLayout | FieldsLayout
    input_shape: tuple[int, ...] | dict[str, tuple[int, ...]]  # by name for named features
    preprocessing: Preprocessing = Preprocessing("scale", 1.0)
    cache: str = "auto"  # auto | memory | none
    shuffle_window: int = 16384
    augment: tuple = ()  # training only: dataset.augment's transforms
    features_only: bool = False  # a task without labels: batches are the features alone
    max_length: int | None = None  # sequences: steps kept of each
    padding_value: float = 0.0  # numeric sequences: the value of padded steps (after normalisation)
    stored_bytes: int = 0  # the split's shards, on disk
    bucket_boundaries: tuple[int, ...] = ()  # training: batches of sequences whose lengths share a bucket
    length_histogram: tuple[tuple[int, int], ...] = ()  # sequences: (length, examples of that length)

    def training_steps(self, batch_size: int) -> int:
        """Batches of one training epoch: ceil(count / batch_size), or with buckets the sum over buckets of
        ceil(examples in it / batch_size), the same every epoch (each bucket holds the same examples)."""
        if not self.bucket_boundaries:
            return steps_per_epoch(self.count, batch_size)
        buckets: dict[int, int] = {}
        for length, examples in self.length_histogram:
            kept = min(length, self.max_length) if self.max_length else length
            bucket = sum(kept >= boundary for boundary in self.bucket_boundaries)
            buckets[bucket] = buckets.get(bucket, 0) + examples
        return sum(steps_per_epoch(examples, batch_size) for examples in buckets.values())

    def in_memory(self) -> bool:
        if self.cache != "auto":
            return self.cache == "memory"
        if isinstance(self.layout, SequenceLayout):  # decoded, about the size of the records (text: smaller)
            return self.stored_bytes <= MEMORY_BYTES
        return self.count * values_per_example(self.input_shape) * 4 <= MEMORY_BYTES


def values_per_example(input_shape: tuple[int, ...] | dict[str, tuple[int, ...]]) -> int:
    """Feature values of one example: of its input, or of all its named features."""
    shapes = input_shape.values() if isinstance(input_shape, dict) else [input_shape]
    return sum(int(np.prod([d for d in shape if d is not None])) for shape in shapes)


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return -(-num_examples // batch_size)


def _records(files: tf.Tensor | tuple[str, ...], layout, interleave: bool = False) -> tf.data.Dataset:
    """The raw records of `files`, in that order (or interleaved across them, deterministically)."""
    if layout.format == ImagePathLayout.format:
        @plain
        def read(paths):
            return tf.data.TextLineDataset(paths)
    elif layout.format == SequenceLayout.format:
        @plain
        def read(paths):
            return tf.data.TFRecordDataset(paths, buffer_size=1 << 20)
    else:
        @plain
        def read(paths):
            return tf.data.FixedLengthRecordDataset(paths, layout.record_bytes, buffer_size=1 << 20)
    if not interleave:
        return read(list(files))
    return tf.data.Dataset.from_tensor_slices(files).interleave(
        read, cycle_length=INTERLEAVE, block_length=1, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _bitcast(raw: tf.Tensor, dtype: str) -> tf.Tensor:
    """(batch, bytes) of little-endian values -> (batch, values) of `dtype`."""
    dtype = tf.as_dtype(dtype)
    if dtype.size == 1:
        return tf.bitcast(raw, dtype) if dtype != tf.uint8 else raw
    return tf.bitcast(tf.reshape(raw, [tf.shape(raw)[0], -1, dtype.size]), dtype)


def decode_image(contents: tf.Tensor, input_shape: tuple[int, ...]) -> tf.Tensor:
    """An encoded PNG/JPEG as float32 `input_shape` (values 0-255): decoded with the shape's channel
    count and resized bilinearly. Training, evaluation and `infer` on an image file all use this."""
    image = tf.io.decode_image(contents, channels=input_shape[-1], expand_animations=False)
    return tf.image.resize(image, input_shape[:2])


def _batched(records: tf.data.Dataset, source: SplitSource, batch_size: int) -> tf.data.Dataset:
    """Records -> batches of (features shaped `input_shape`, targets), features not yet normalised."""
    layout, shape = source.layout, source.input_shape
    if layout.format == ImagePathLayout.format:
        @plain
        def decode_line(line: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            label, path = tf.unstack(tf.strings.split(line, "\t", maxsplit=1), num=2)
            return decode_image(tf.io.read_file(path), shape), tf.strings.to_number(label, tf.int64)

        return (records.map(decode_line, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(batch_size))

    if isinstance(layout, SequenceLayout):  # texts, or ragged steps: padded once normalised
        return records.batch(batch_size).map(plain(layout.parse), num_parallel_calls=tf.data.AUTOTUNE,
                                             deterministic=True)

    if isinstance(layout, FieldsLayout):
        features = {name for name, _, _ in layout.features}

        @plain
        def decode_fields(records: tf.Tensor) -> tuple[dict, dict]:
            raw = tf.io.decode_raw(records, tf.uint8)
            batch = tf.shape(raw)[0]
            values = {name: tf.reshape(_bitcast(raw[:, offset:offset + size], dtype), tf.concat(
                [[batch], tf.constant(shape[name] if name in features else stored, tf.int32)], 0))
                for name, dtype, stored, offset, size in layout.fields()}  # features as configured
            return ({name: values[name] for name, _, _ in layout.features},
                    {name: values[name] for name, _, _ in layout.targets})

        return records.batch(batch_size).map(decode_fields, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    @plain

    def decode(records: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        raw = tf.io.decode_raw(records, tf.uint8)
        x = _bitcast(raw[:, :layout.x_bytes], layout.x_dtype)
        y = _bitcast(raw[:, layout.x_bytes:], layout.y_dtype)
        batch = tf.shape(raw)[0]
        return (tf.reshape(x, tf.concat([[batch], shape], 0)),
                tf.reshape(y, tf.concat([[batch], tf.constant(layout.y_shape, tf.int32)], 0)))

    return records.batch(batch_size).map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def feature_normaliser(preprocessing: Preprocessing, shape: tuple[int, ...]):
    """Features in their stored dtype -> float32 model inputs of `shape`: (x - shift) / divisor, per value
    (training's and evaluation's batches, and the exported SavedModel's raw inputs)."""
    shift, divisor = (tf.constant(v) for v in preprocessing.feature_transform())

    def normalise(x: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(x)[0]
        flat = (tf.reshape(tf.cast(x, tf.float32), [batch, -1]) - shift) / divisor
        return tf.reshape(flat, tf.concat([[batch], shape], 0))

    return normalise


def padded(sequences: tf.RaggedTensor, max_length: int | None, padding_value: float | int) -> tf.Tensor:
    """Ragged sequences [batch, None(, channels)] as one dense batch padded to its longest member (at least one
    step), each cut to `max_length` steps: what training, evaluation, infer and the SavedModel all feed."""
    if max_length is not None:
        sequences = sequences[:, :max_length]
    dense = sequences.to_tensor(tf.cast(padding_value, sequences.dtype))
    missing = tf.maximum(0, 1 - tf.shape(dense)[1])  # a batch of empty texts still has one (padded) step
    return tf.pad(dense, [[0, 0], [0, missing], *([[0, 0]] * (dense.shape.rank - 2))],
                  constant_values=tf.cast(padding_value, dense.dtype))


def sequence_normaliser(preprocessing: Preprocessing, max_length: int | None, padding_value: float):
    """Stored sequences -> model inputs: texts (tf.string [batch]) -> padded token ids (int32 [batch, steps],
    0 = padding), numeric steps (ragged [batch, None, channels]) -> normalised float32, padded with
    `padding_value`."""
    if preprocessing.tokenizer is not None:
        from data.text import Tokenizer

        tokenizer = Tokenizer(preprocessing.tokenizer)

        def tokens(texts: tf.Tensor | tf.RaggedTensor) -> tf.Tensor:
            ids = tokenizer(texts) if texts.dtype == tf.string else texts  # ids: tokenized once, in memory
            return padded(ids, max_length, 0)

        return tokens
    shift, divisor = (tf.constant(v) for v in preprocessing.feature_transform())

    def steps(sequences: tf.RaggedTensor) -> tf.Tensor:
        normalised = tf.ragged.map_flat_values(lambda v: (tf.cast(v, tf.float32) - shift) / divisor, sequences)
        return padded(normalised, max_length, padding_value)

    return steps


def _normaliser(source: SplitSource):
    """(features, targets) in stored dtypes -> float32 model inputs and the loss's target dtype (or the
    inputs alone, for a task without labels: what Keras hands a training step as `data`); named features
    each as their own preprocessing says, named targets as their task takes them."""
    if isinstance(source.layout, FieldsLayout):
        features = {name: feature_normaliser(source.preprocessing.feature(name), shape)
                    for name, shape in source.input_shape.items()}
        integer = {name for name, dtype, _ in source.layout.targets if dtype == "int64"}

        @plain
        def normalise_fields(x: dict, y: dict) -> tuple[dict, dict] | dict:
            inputs = {name: features[name](value) for name, value in x.items()}
            if source.features_only:
                return inputs
            return inputs, {name: value if name in integer else tf.cast(value, tf.float32) for name, value in y.items()}

        return normalise_fields

    features = (sequence_normaliser(source.preprocessing, source.max_length, source.padding_value)
                if isinstance(source.layout, SequenceLayout)
                else feature_normaliser(source.preprocessing, source.input_shape))
    integer_targets = source.layout.y_dtype == "int64"

    @plain

    def normalise(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor] | tf.Tensor:
        if source.features_only:
            return features(x)
        return features(x), y if integer_targets else tf.cast(y, tf.float32)

    return normalise


def read_all(source: SplitSource) -> tuple[tf.Tensor, tf.Tensor]:
    """The whole split as two tensors (stored dtype): for splits kept in memory."""
    if source.count == 0:
        raise ValueError("empty split")
    return _batched(_records(source.files, source.layout), source, source.count).get_single_element()


def training_batches(source: SplitSource, batch_size: int, seed: int, first_epoch: int,
                     epochs: int, limit: int | None = None, overfit: int | None = None) -> tf.data.Dataset:
    """The shuffled (and augmented) batches of epochs `first_epoch` .. `epochs - 1`, one epoch after the other.

    Batch b of epoch e is augmented with the stateless seed (seed, e, b): a resumed run sees the
    very same augmented batches. Debugging: `limit` keeps each epoch's first batches; `overfit`
    gives every epoch the first epoch's first `overfit` batches, the same ones again and again.
    """
    if overfit is not None:
        return (_training_batches(source, batch_size, seed, 0, 1, overfit).repeat(epochs - first_epoch)
                .apply(tf.data.experimental.assert_cardinality(
                    (epochs - first_epoch) * min(overfit, source.training_steps(batch_size)))))
    return _training_batches(source, batch_size, seed, first_epoch, epochs, limit)


def _training_batches(source: SplitSource, batch_size: int, seed: int, first_epoch: int, epochs: int,
                      limit: int | None) -> tf.data.Dataset:
    steps = min(source.training_steps(batch_size), limit or source.count)
    normalise = _normaliser(source)
    transform = augmentation(source.augment, source.input_shape)
    bucketed = bucketing(source, batch_size)

    @plain

    def finish(epoch: tf.Tensor, batch: tf.Tensor, x, y):
        if transform is not None:
            x = transform(x, tf.stack([tf.constant(seed, tf.int64), epoch * 2**32 + batch]))
        return normalise(x, y)

    if source.in_memory():
        features, labels = read_all(source)
        count = source.count
        if source.preprocessing.tokenizer is not None and isinstance(source.layout, SequenceLayout):
            from data.text import Tokenizer

            features = Tokenizer(source.preprocessing.tokenizer)(features)  # once: every epoch gathers the ids
        lengths = tf.cast(features.row_lengths(), tf.int32) if bucketed is not None else None  # once, not per epoch

        def gathered(values, index):
            return tf.nest.map_structure(lambda value: tf.gather(value, index), values)

        @plain

        def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
            order = tf.random.experimental.index_shuffle(
                tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
                max_index=count - 1)
            indices = tf.data.Dataset.from_tensor_slices(order)
            if bucketed is not None:
                indices = bucketed(indices, lambda index: tf.gather(lengths, index))
            else:
                indices = indices.batch(batch_size)
            return (indices.take(steps).enumerate()
                    .map(plain(lambda batch, index: (epoch, batch, gathered(features, index),
                                                     gathered(labels, index)))))

        return (tf.data.Dataset.range(first_epoch, epochs)
                .flat_map(epoch_batches)
                .map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .apply(tf.data.experimental.assert_cardinality((epochs - first_epoch) * steps))
                .prefetch(tf.data.AUTOTUNE))

    files = tf.constant(source.files)
    shards = len(source.files)
    window = min(source.shuffle_window, source.count)

    @plain

    def shuffled_window(index: tf.Tensor, block: tf.Tensor, epoch: tf.Tensor) -> tf.data.Dataset:
        size = tf.cast(tf.shape(block)[0], tf.int64)
        order = tf.random.experimental.index_shuffle(
            tf.range(size), seed=tf.stack([tf.constant(seed, tf.int64), epoch * 2**32 + index]), max_index=size - 1)
        return tf.data.Dataset.from_tensor_slices(tf.gather(block, order))

    length_of = record_length(source) if bucketed is not None else None

    @plain

    def epoch_records(epoch: tf.Tensor) -> tf.data.Dataset:
        shard_order = tf.random.experimental.index_shuffle(
            tf.range(shards, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
            max_index=shards - 1)
        records = (_records(tf.gather(files, shard_order), source.layout, interleave=True)
                   .batch(window)
                   .enumerate()
                   .flat_map(plain(lambda index, block: shuffled_window(index, block, epoch))))
        if bucketed is not None:  # records grouped by their length, then parsed a batch at a time
            measured = records.map(plain(lambda record: (record, length_of(record))),
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            batches = bucketed(measured, lambda record, length: length).map(
                plain(lambda record, length: source.layout.parse(record)), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
        else:
            batches = _batched(records, source, batch_size)
        return batches.take(steps).enumerate().map(
            plain(lambda batch, xy: (epoch, batch, *xy)))

    return (tf.data.Dataset.range(first_epoch, epochs)
            .flat_map(epoch_records)
            .map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            # shards do not tell tf.data their length; Keras wants it (progress, no "ran out of data")
            .apply(tf.data.experimental.assert_cardinality((epochs - first_epoch) * steps))
            .prefetch(tf.data.AUTOTUNE))


def truncated(source: SplitSource) -> int:
    """How many of the split's sequences `max_length` cuts (from the manifest's length histogram)."""
    if source.max_length is None:
        return 0
    return sum(examples for length, examples in source.length_histogram if length > source.max_length)


def bucketing(source: SplitSource, batch_size: int):
    """`dataset.bucket_boundaries` as a function (elements, their length) -> batches of elements whose lengths
    fall in one bucket (lengths cut to `max_length` first), each bucket's last batch at the epoch's end; None
    without boundaries. Deterministic: the batches are a function of the elements' order."""
    if not source.bucket_boundaries or not isinstance(source.layout, SequenceLayout):
        return None
    boundaries = list(source.bucket_boundaries)

    def bucketed(elements: tf.data.Dataset, length_of) -> tf.data.Dataset:
        def length(*element):
            value = tf.cast(length_of(*element), tf.int32)
            return tf.minimum(value, source.max_length) if source.max_length else value

        return elements.bucket_by_sequence_length(plain(length), boundaries, [batch_size] * (len(boundaries) + 1))

    return bucketed


def record_length(source: SplitSource):
    """record (a serialised example) -> its sequence length as the manifest's histogram counts it: tokens of a
    text (by the run's tokenizer, made here once, outside the pipeline's traced functions), or steps."""
    tokenize = None
    if source.preprocessing.tokenizer is not None:
        from data.text import Tokenizer

        tokenize = Tokenizer(source.preprocessing.tokenizer)

    def length_of(record: tf.Tensor) -> tf.Tensor:
        features = source.layout.parse(record[None])[0]
        return tf.cast((features if tokenize is None else tokenize(features)).row_lengths()[0], tf.int32)

    return length_of


def evaluation_batches(source: SplitSource, batch_size: int, limit: int | None = None) -> tf.data.Dataset:
    """Batches in stored order, never augmented: validation and test data (cached once decoded when
    kept in memory); `limit` keeps the first batches only (debugging)."""
    steps = min(steps_per_epoch(source.count, batch_size), limit or source.count)
    batches = (_batched(_records(source.files, source.layout), source, batch_size).take(steps)
               .map(_normaliser(source), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .apply(tf.data.experimental.assert_cardinality(steps)))
    if source.in_memory():
        batches = batches.cache()
    return batches.prefetch(tf.data.AUTOTUNE)


def augmentation(transforms: tuple | list, input_shape: tuple[int, ...] | dict[str, tuple[int, ...]]):
    """`dataset.augment` as one function (raw images, stateless seed) -> float32 images, or None.

    Stateless TensorFlow image ops, not Keras' random layers: a Keras layer draws from a seed
    generator whose state depends on how often it was called, so a resumed run would draw other
    transforms; these draw from the batch's own seed. Each transform draws per image. Of named
    features, each image feature (shape [height, width, channels]) is augmented, with its own draws.
    """
    if not transforms:
        return None
    if isinstance(input_shape, dict):
        images = {name: augmentation(transforms, shape) for name, shape in input_shape.items() if len(shape) == 3}

        def apply_each(x: dict, seed: tf.Tensor) -> dict:
            return {name: images[name](value, tf.random.experimental.stateless_fold_in(
                tf.cast(seed, tf.int64), 1 + index)) if name in images else value
                    for index, (name, value) in enumerate(sorted(x.items()))}

        return apply_each
    single = _image_augmentation(transforms, input_shape)
    return lambda images, seed: single(tf.cast(images, tf.float32), seed)


def _image_augmentation(transforms: tuple | list, input_shape: tuple[int, ...]):
    height, width = input_shape[0], input_shape[1]

    def apply(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(images)[0]
        for index, transform in enumerate(transforms):
            name = transform["name"]
            step = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), index)

            def uniform(shape, low=0.0, high=1.0):
                return tf.random.stateless_uniform(shape, step, low, high)

            if name == "flip":
                mode = transform.get("mode", "horizontal")
                if "horizontal" in mode:
                    images = tf.where(uniform([batch, 1, 1, 1]) < 0.5, tf.reverse(images, [2]), images)
                if "vertical" in mode:
                    step = tf.random.experimental.stateless_fold_in(step, 1)
                    images = tf.where(uniform([batch, 1, 1, 1]) < 0.5, tf.reverse(images, [1]), images)
            elif name == "contrast":
                factor = float(transform.get("factor", 0.2))
                scale = uniform([batch, 1, 1, 1], 1 - factor, 1 + factor)
                mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
                images = tf.clip_by_value((images - mean) * scale + mean, 0.0, 255.0)
            elif name == "crop":
                pad = int(transform.get("padding", 4))
                padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
                offsets = tf.cast(tf.floor(uniform([batch, 2], 0, 2 * pad + 1)), tf.int32)
                images = tf.map_fn(lambda args: tf.slice(args[0], [args[1][0], args[1][1], 0],
                                                         [height, width, -1]),
                                   (padded, offsets), fn_output_signature=images.dtype)
            else:  # translate, rotate: one projective transform per image
                factor = float(transform.get("factor", 0.1))
                if name == "translate":
                    shifts = uniform([batch, 2], -factor, factor) * tf.constant([width, height], tf.float32)
                    zeros, ones = tf.zeros([batch]), tf.ones([batch])
                    matrices = tf.stack([ones, zeros, -shifts[:, 0], zeros, ones, -shifts[:, 1], zeros, zeros], 1)
                else:
                    angles = uniform([batch], -factor, factor) * 2 * 3.141592653589793
                    cos, sin = tf.cos(angles), tf.sin(angles)
                    cx, cy = (width - 1) / 2, (height - 1) / 2
                    matrices = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
                                         tf.zeros([batch]), tf.zeros([batch])], 1)
                images = tf.raw_ops.ImageProjectiveTransformV3(
                    images=images, transforms=matrices, output_shape=tf.constant([height, width]),
                    fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
        return images

    return apply


def input_shapes(dataset_cfg) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
    """`dataset.input_shape` as a tuple, or of named features `{name: shape}`."""
    if dataset_cfg.get("features"):
        return {str(name): tuple(int(d) for d in feature.shape) for name, feature in dataset_cfg.features.items()}
    return tuple(None if d is None else int(d) for d in dataset_cfg.input_shape)


def split_source(folder: Path, manifest: dict, split: str, dataset_cfg,
                 preprocessing: Preprocessing | None = None) -> SplitSource:
    """The pipeline's view of `split` of a prepared folder, read with the run's dataset config and
    preprocessing (by default, the one the manifest's statistics give)."""
    from data.prepare import check_memory

    entry = manifest["splits"][split]
    shape = input_shapes(dataset_cfg)
    layout = RecordLayout.from_dict(manifest["record"])
    if dataset_cfg.cache == "memory":
        check_memory(int(entry["count"]) * values_per_example(shape) * 4,
                     f"dataset.cache=memory: the {split} split", "use dataset.cache=auto or none (streamed)")
    return SplitSource(
        files=tuple(str(Path(folder) / shard["file"]) for shard in entry["shards"]),
        count=int(entry["count"]), layout=layout,
        input_shape=shape,
        preprocessing=preprocessing or Preprocessing.from_manifest(manifest, dataset_cfg),
        cache=str(dataset_cfg.cache), shuffle_window=int(dataset_cfg.shuffle_window),
        augment=tuple(OmegaConf.to_container(dataset_cfg.augment)) if split == "train" else (),
        features_only=dataset_cfg.task == "unsupervised",
        max_length=dataset_cfg.get("max_length"), padding_value=float(dataset_cfg.get("padding_value", 0.0)),
        stored_bytes=sum(int(shard["bytes"]) for shard in entry["shards"]),
        bucket_boundaries=tuple(dataset_cfg.get("bucket_boundaries") or ()) if split == "train" else (),
        length_histogram=tuple(tuple(pair) for pair in entry.get("lengths", {}).get("histogram", ())))
