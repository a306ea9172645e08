"""The infer stage: predictions of a trained run for one element or a batch, from the shell.

    python main.py stage=infer run=<run> input='[[0,0,5,13,9,1,0,0, ...]]'   # a JSON list
    python main.py stage=infer run=<run> input=samples.npy                     # or .json, .csv
    cat samples.json | python main.py stage=infer run=<run> input=-            # stdin: JSON or CSV
    python main.py stage=infer run=<run> input=photo.jpg                       # an image (.png/.jpg/.jpeg)
    python main.py stage=infer run=<run> input='["a review", "another"]'     # a text model: texts
    python main.py stage=infer run=<run> input=reviews.txt                     # one text per line (or - for stdin)

Input values are in the dataset's raw units (digits: 0 to 16), as in its prepared files; an
element is shaped like `dataset.input_shape` or is the same values flat (of named features, a JSON
object `{"image": [...], "strokes": [...]}` per element); the run's preprocessing record normalises
it as training did. A text model takes raw strings, tokenized with the run's own vocabulary; a model of
numeric sequences takes sequences of any length (`[[v1, v2], [v1, v2], ...]` per element); both are cut to
`dataset.max_length` and padded as training did. An image file is decoded
and resized to `dataset.input_shape` exactly as training read its images. Prints one JSON line
per element: the class and class probabilities (classification), per-label probabilities and the
labels at or above `stage.threshold` (multilabel, default 0.5), the predicted values
(regression), or what the model's `outputs` hook names (a VAE's `reconstruction` and
`latent_mean`); and keeps it in `<run>/infer/<time>/`. Each output is the element's value: a
number, a nested list, or for a boolean output the indices where it is true.
"""

from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

from conf.errors import UserError, first_line
from conf.schema import is_sequence
from data.text import decoded
from runs.stages.trained_run import load_trained_model, report, trained_run

FILE_SUFFIXES = (".npy", ".json", ".csv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_image(value: str, input_shape: tuple[int, ...]) -> np.ndarray:
    """An image file as a batch of one, decoded and resized like the training pipeline's images."""
    import tensorflow as tf

    from data.pipeline import decode_image

    path = Path(value)
    if not path.is_file():
        raise UserError(f"input={value}: no such file")
    if len(input_shape) != 3:
        raise UserError(f"input={value} is an image, but the model takes inputs of shape {list(input_shape)}")
    try:
        return decode_image(tf.io.read_file(str(path)), input_shape).numpy()[None]
    except (tf.errors.InvalidArgumentError, tf.errors.OpError) as error:
        raise UserError(f"input={value} is not a readable image: {first_line(error.message)}") from None


def parse_json(text: str, source: str) -> Any:
    """JSON, or a UserError for input nested too deep for Python's parser (it raises RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise UserError(f"{source} nests lists too deeply; the model takes at most a batch of its elements") from None


def _parse_text(text: str, source: str) -> Any:
    """JSON if it parses as JSON, else comma-separated rows of numbers."""
    if not text.strip():
        raise UserError(f"{source} is empty; give a JSON list or comma-separated rows of numbers")
    try:
        return parse_json(text, source)
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns of lines without numbers: it is the input's fault
            return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    except (ValueError, UserWarning):
        raise UserError(f"{source} is neither JSON nor comma-separated numbers") from None


def read_input(value: Any) -> Any:
    """The raw data behind `input=`: a list given inline, a file, or stdin."""
    if value is None:
        raise UserError("stage=infer needs input=: a JSON list, a .npy/.json/.csv file, or - for stdin")
    if isinstance(value, (ListConfig, DictConfig)):
        return OmegaConf.to_container(value)
    if not isinstance(value, str):
        return value
    if value == "-":
        return _parse_text(sys.stdin.read(), "input=- (stdin)")
    path = Path(value)
    if path.suffix in FILE_SUFFIXES:
        if not path.is_file():
            raise UserError(f"input={value}: no such file")
        try:
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False)
            return _parse_text(path.read_text(), f"input={value}")
        except (ValueError, EOFError, OSError) as error:  # UnicodeDecodeError is a ValueError
            raise UserError(f"input={value} is not a readable {path.suffix} file: {first_line(error)}") from None
    try:
        return parse_json(value, "input=")
    except ValueError:
        raise UserError(f"input={value!r} is not a JSON list nor a {'/'.join(FILE_SUFFIXES)} file "
                        "(nor - for stdin)") from None


def numbers(data: Any) -> np.ndarray:
    """`data` as float64, or a ValueError unless it holds numbers only: `np.asarray(..., float64)` alone would
    also read the JSON strings `"1"`, `"2"` as numbers."""
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":  # strings, None, ragged lists (object)
        raise ValueError("not numbers")
    return array.astype("float64")


def as_batch(data: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """The input as a float batch `(N, *input_shape)`, or a UserError naming the expected shape."""
    size = int(np.prod(input_shape))
    expected = f"elements of shape {list(input_shape)} (or {size} values each): one element or a list of them"
    try:
        array = numbers(data)
    except (ValueError, TypeError, RecursionError):
        raise UserError(f"input must hold numbers only, in a regular nested list; the model takes {expected}") from None
    if array.size == 0:
        raise UserError(f"input is empty; the model takes {expected}")
    if not np.isfinite(array).all():
        raise UserError("input holds NaN or infinite values")
    element_shapes = {tuple(input_shape), (size,), tuple(d for d in input_shape if d != 1)}
    if array.shape in element_shapes:
        array = array[None]
    elif array.shape[1:] not in element_shapes:
        raise UserError(f"input has shape {list(array.shape)}; the model takes {expected}")
    return array.reshape(len(array), *input_shape)


def as_named_batch(data: Any, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Named features as float batches `{name: (N, *shape)}`: from one JSON object `{name: element}` or a list
    of them; a UserError naming what is missing, extra or mis-shaped."""
    expected = f"a JSON object with {', '.join(shapes)} (one element) or a list of such objects"
    elements = [data] if isinstance(data, dict) else data
    if not isinstance(elements, list) or not elements or not all(isinstance(e, dict) for e in elements):
        raise UserError(f"input must be {expected}")
    for index, element in enumerate(elements):
        if set(element) != set(shapes):
            missing, extra = sorted(set(shapes) - set(element)), sorted(set(element) - set(shapes))
            raise UserError(f"input element {index} has {'no ' + ', '.join(missing) if missing else ''}"
                            f"{' and ' if missing and extra else ''}{'unknown ' + ', '.join(extra) if extra else ''}; "
                            f"the model takes {expected}")
    batch = {}
    for name, shape in shapes.items():
        try:
            batch[name] = np.concatenate([as_batch(element[name], shape) for element in elements])
        except UserError as error:
            raise UserError(f"input feature {name}: {error}") from None
    return batch


TEXT_SUFFIXES = (".txt",)
MAX_TEXT_BYTES = 64 << 20  # a text input is read only up to this size


def read_texts(value: Any) -> list[str]:
    """Texts for a text model: a JSON list of strings (or one string), a .txt file of one text per line, or
    stdin (JSON, else one text per line); a UserError naming an element that is no text or empty."""
    if value is None:
        raise UserError("stage=infer needs input=: a JSON list of texts, a .txt file (one text per line), or - "
                        "for stdin")
    if isinstance(value, (ListConfig, DictConfig)):
        data = OmegaConf.to_container(value)
    elif isinstance(value, str) and (value == "-" or Path(value).suffix.lower() in TEXT_SUFFIXES):
        if value == "-":
            text, source = sys.stdin.read(), "input=- (stdin)"
        else:
            path = Path(value)
            if not path.is_file():
                raise UserError(f"input={value}: no such file")
            source = f"input={value}"
            if path.stat().st_size > MAX_TEXT_BYTES:  # refused before it is read
                raise UserError(f"{source} is larger than {MAX_TEXT_BYTES >> 20} MB")
            text = decoded(path.read_bytes(), source)
        try:
            data = parse_json(text, source) if value == "-" and text.lstrip().startswith(("[", '"')) else None
        except ValueError:
            data = None
        if data is None:
            data = text.splitlines()
            if not data:
                raise UserError(f"{source} is empty; give one text per line")
    elif isinstance(value, str):
        try:
            data = parse_json(value, "input=")
        except ValueError:
            data = value  # a bare string on the command line: one text
    else:
        data = value
    texts = [data] if isinstance(data, str) else data
    if not isinstance(texts, list) or not texts:
        raise UserError("input must be a text or a non-empty list of texts; the model reads text")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise UserError(f"input element {index} is {type(text).__name__} {text!r:.40}, not a text; the model "
                            "reads text (input='[\"a text\", \"another\"]')")
        if not text.strip():
            raise UserError(f"input element {index} is an empty text; every element needs at least one word")
    return texts


def as_sequences(data: Any, input_shape: tuple) -> list[np.ndarray]:
    """Numeric sequences of any length, each (steps, channels) or (steps,) as `input_shape` says: one element
    or a list of them; a UserError naming the element that does not fit."""
    channels = input_shape[1] if len(input_shape) == 2 else None
    expected = (f"sequences of steps of {channels} values ([[v1, ..., v{channels}], ...]), one or a list of them"
                if channels else "sequences of numbers ([v1, v2, ...]), one or a list of them")
    depth = 2 if channels else 1

    def nesting(value: Any) -> int:
        levels = 0
        while isinstance(value, (list, np.ndarray)) and len(value):
            value, levels = value[0], levels + 1
        return levels

    if isinstance(data, np.ndarray) and data.dtype != object:
        data = data.tolist()
    if not isinstance(data, list) or not data:
        raise UserError(f"input is empty or not a list; the model takes {expected}")
    elements = [data] if nesting(data) == depth else data
    batch = []
    for index, element in enumerate(elements):
        try:
            array = numbers(element)
        except (ValueError, TypeError, RecursionError):
            raise UserError(f"input element {index} must hold numbers only, in a regular nested list; the model "
                            f"takes {expected}") from None
        if array.size == 0:
            raise UserError(f"input element {index} is an empty sequence; the model takes {expected}")
        if array.ndim != depth or (channels and array.shape[1] != channels):
            raise UserError(f"input element {index} has shape {list(array.shape)}; the model takes {expected}")
        if not np.isfinite(array).all():
            raise UserError(f"input element {index} holds NaN or infinite values")
        batch.append(array.astype("float32"))
    return batch


def sequence_batch(run, data: Any, shape: tuple) -> np.ndarray:
    """Texts or numeric sequences as the network's padded inputs, through the pipeline's own normaliser."""
    import tensorflow as tf

    from data.pipeline import sequence_normaliser

    dataset = run.config.dataset
    normalise = sequence_normaliser(run.preprocessing, dataset.get("max_length"), float(dataset.padding_value))
    if run.preprocessing.tokenizer is not None:
        return normalise(tf.constant([text.encode("utf-8") for text in read_texts(data)], tf.string)).numpy()
    rows = as_sequences(read_input(data), shape)
    return normalise(tf.RaggedTensor.from_row_lengths(np.concatenate(rows), [len(row) for row in rows])).numpy()


def infer(cfg: DictConfig) -> dict[str, float]:
    from data.pipeline import input_shapes

    run = trained_run(cfg)
    shape = input_shapes(run.config.dataset)
    if is_sequence(shape):  # text, or numeric sequences: padded inputs, normalised by the pipeline's own code
        inputs = sequence_batch(run, cfg.input, shape)
    elif isinstance(shape, dict):
        inputs = run.preprocessing.apply(as_named_batch(read_input(cfg.input), shape))
    elif isinstance(cfg.input, str) and Path(cfg.input).suffix.lower() in IMAGE_SUFFIXES:
        inputs = run.preprocessing.apply(read_image(cfg.input, shape))
    else:
        inputs = run.preprocessing.apply(as_batch(read_input(cfg.input), shape))
    model = load_trained_model(run.config, run.path, run.preprocessing)
    outputs = model.predict_outputs(inputs, float(cfg.stage.threshold))
    count = len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)
    report("predictions.json", {**run.header(), "predictions": [
        {name: as_json(values[index]) for name, values in outputs.items()} for index in range(count)]})
    return {}


def as_json(value: np.ndarray) -> Any:
    """One element's output as JSON: a number (floats to 6 decimals), a nested list, or for a boolean
    vector the indices where it is true (a multilabel model's labels)."""
    value = np.asarray(value)
    if value.dtype == bool:
        return [int(i) for i in np.flatnonzero(value)] if value.ndim else bool(value)
    if value.dtype.kind in "iu":
        return value.tolist()
    return np.round(value.astype("float64"), 6).tolist()
