"""The export stage: a trained run's checkpoint as a TensorFlow SavedModel for serving.

    python main.py stage=export run=<run> [checkpoint=epoch_3]

Writes `<run>/export/<time>/saved_model/` with one serving signature, `serving_default`: input
`inputs` (or one input per named feature, by its name), float32 `(batch, *input_shape)` in the
dataset's raw units (the run's normalisation,
scale or train-split standardisation, is inside); outputs named for the task: `probabilities`
`(batch, classes)` and `class` `(batch,)` (classification), `probabilities` `(batch, labels)` and
`labels` (bool, at or above `stage.threshold`; multilabel), `values` `(batch, outputs)` in the
targets' raw units (regression), or what the model's `outputs` hook names (a VAE's
`reconstruction` and `latent_mean`): the same function `infer` calls. A text model's SavedModel takes
`inputs`, tf.string `(batch,)`, and tokenizes inside; a model of numeric sequences takes `inputs`, float32
`(batch, steps, channels)` padded anyhow, and `lengths`, int32 `(batch,)`; both cut to `dataset.max_length`.
Load it with
`tf.saved_model.load(path).signatures["serving_default"](inputs=...)`, without this project.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from conf.schema import is_sequence
from data.pipeline import feature_normaliser, input_shapes
from runs.stages.trained_run import load_trained_model, report, trained_run

SIGNATURE = "serving_default"


def export(cfg: DictConfig) -> dict[str, float]:
    import keras
    import tensorflow as tf

    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # not "Assets written to <staging folder>"

    run = trained_run(cfg)
    model = load_trained_model(run.config, run.path, run.preprocessing)
    network = model.network
    threshold = float(cfg.stage.threshold)
    shapes = input_shapes(run.config.dataset)
    if is_sequence(shapes):
        archive = sequence_archive(run, model, shapes, threshold)
        return write_archive(archive, run)
    names = list(shapes) if isinstance(shapes, dict) else [None]

    normalisers = {name: feature_normaliser(run.preprocessing.feature(name), shapes if name is None else shapes[name])
                   for name in names}

    def serve(*inputs):  # one argument per named feature, in the dataset's order
        if names == [None]:
            return model.outputs(normalisers[None](inputs[0]), threshold)
        return model.outputs({name: normalisers[name](value) for name, value in zip(names, inputs, strict=True)},
                             threshold)

    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint(SIGNATURE, serve, input_signature=[
        tf.TensorSpec((None, *shapes[name]), tf.float32, name=name) for name in names] if names != [None] else [
        tf.TensorSpec((None, *shapes), tf.float32, name="inputs")])
    return write_archive(archive, run)


def sequence_archive(run, model, shape: tuple, threshold: float):
    """The serving function of a text model (`inputs`: tf.string (batch,), tokenized inside with the run's
    vocabulary) or of a model of numeric sequences (`inputs`: float32 (batch, steps, channels) in raw units,
    padded anyhow, and `lengths`: int32 (batch,), each sequence's own steps)."""
    import keras
    import tensorflow as tf

    from data.pipeline import sequence_normaliser

    dataset = run.config.dataset
    normalise = sequence_normaliser(run.preprocessing, dataset.get("max_length"), float(dataset.padding_value))
    archive = keras.export.ExportArchive()
    archive.track(model.network)
    if run.preprocessing.tokenizer is not None:
        archive.add_endpoint(SIGNATURE, lambda texts: model.outputs(normalise(texts), threshold),
                             input_signature=[tf.TensorSpec((None,), tf.string, name="inputs")])
        return archive
    channels = shape[1] if len(shape) == 2 else None
    steps_shape = (None, None, channels) if channels else (None, None)

    def serve(inputs, lengths):
        return model.outputs(normalise(tf.RaggedTensor.from_tensor(inputs, lengths=lengths)), threshold)

    archive.add_endpoint(SIGNATURE, serve, input_signature=[
        tf.TensorSpec(steps_shape, tf.float32, name="inputs"), tf.TensorSpec((None,), tf.int32, name="lengths")])
    return archive


def write_archive(archive, run) -> dict[str, float]:
    """Write the SavedModel under a temporary name in the job's folder, then rename it `saved_model`."""
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    destination = output_dir / "saved_model"
    staging = Path(tempfile.mkdtemp(prefix=".saved_model.", dir=output_dir))
    try:
        archive.write_out(str(staging / "saved_model"), verbose=False)
        (staging / "saved_model").rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report("export.json", {**run.header(), "saved_model": str(destination), "signature": SIGNATURE})
    return {}
