"""The base class every model subclasses: one configuration in, a compiled Keras network out.

After the seed article's basic model, the base owns what all models share: compiling with the
configured optimizer, fitting with the learning-rate schedule and repeatable randomness,
evaluating, predicting on a batch or a single element, restoring checkpoints, and seeding. Where
a run writes (checkpoints, logs) is the training stage's business: it hands those callbacks in.
A subclass declares its hyper-parameters as a `Config` dataclass and builds its network in
`build_network`; that is all a new model needs (see `models/mlp.py`).

TensorFlow is imported inside the methods that use it, never when this module is imported: the
model registry and the configuration checks import every model file, and they must answer in a
fraction of a second, before TensorFlow's start-up.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from omegaconf import DictConfig, OmegaConf

from conf import CONF_DIR
from conf.errors import UserError, first_line
from conf.schema import ModelConfig

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

log = logging.getLogger("model")


def learning_rate_at(epoch: int, optimizer: DictConfig, epochs: int) -> float:
    """Learning rate for a 0-based epoch: linear warm-up, then constant or cosine decay.

    A pure function of the epoch, so a resumed run continues the schedule exactly.
    """
    base = optimizer.lr
    if epoch < optimizer.warmup_epochs:
        return base * (epoch + 1) / (optimizer.warmup_epochs + 1)
    if optimizer.schedule == "constant":
        return base
    decay_epochs = max(1, epochs - optimizer.warmup_epochs - 1)  # the last epoch reaches the floor
    progress = min(1.0, (epoch - optimizer.warmup_epochs) / decay_epochs)
    floor = base * optimizer.min_lr_ratio
    return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(optimizer: DictConfig) -> keras.optimizers.Optimizer:
    import keras

    common = {"learning_rate": optimizer.lr, "clipnorm": optimizer.clipnorm}
    if optimizer.name == "adamw":  # decoupled weight decay
        return keras.optimizers.AdamW(weight_decay=optimizer.weight_decay, **common)
    common["weight_decay"] = optimizer.weight_decay or None
    if optimizer.name == "adam":
        return keras.optimizers.Adam(**common)
    if optimizer.name == "sgd":
        return keras.optimizers.SGD(momentum=optimizer.momentum, **common)
    return keras.optimizers.RMSprop(momentum=optimizer.momentum, **common)


class BaseModel:
    """A model built from the run's configuration for the dataset's task; subclasses only build the network.

    The task (`dataset.task`) picks what the network's outputs mean and how they are trained:
    classification: one logit per class, sparse categorical cross-entropy, accuracy; multilabel:
    one logit per label, binary cross-entropy, binary accuracy, AUC and F1; regression: one value
    per output in the targets' raw units, mean squared error, MAE and RMSE.

    Example:
        model = MLP(cfg)                 # cfg: the composed config of `conf/config.yaml`
        model.fit(train, val, steps_per_epoch=20)
        model.predict(image)             # one element or a batch -> the task's outputs

    Hooks, Keras-style: a subclass defines `build_network` and may override `loss()`, `metrics()` or
    `head(outputs)`. `trainer.monitor` and `optimized_metric` are checked against the task's metric
    names (`conf.schema.TASK_METRICS`) before TensorFlow starts, so added metrics keep other names.
    Class attributes:
        Config: the dataclass of the model's hyper-parameters, registered as its config schema.
        search_space: hyper-parameter search space in Hydra's sweep grammar
            (`{"model.dropout": "interval(0.0, 0.5)"}`), used when a search names no params.
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    search_space: ClassVar[dict[str, str]] = {}

    def __init__(self, config: DictConfig, preprocessing: Any = None) -> None:
        import keras

        self.config = config
        self.hparams = config.model
        self.task = config.dataset.task
        self.preprocessing = preprocessing
        self.input_shape = tuple(config.dataset.input_shape)
        self.num_classes = config.dataset.num_classes
        self.num_outputs = config.dataset.num_outputs if self.task == "regression" else self.num_classes
        network = self.build_network(self.input_shape, self.num_outputs)
        outputs = self.head(network.outputs[0])
        if outputs is not network.outputs[0]:
            # operations, not layers: checkpoints hold the same layers whatever the head and precision
            network = keras.Model(network.inputs, outputs, name=network.name)
        self.network = network
        trainer = config.trainer
        self.network.compile(
            optimizer=make_optimizer(config.optimizer),
            loss=self.loss(),
            metrics=self.metrics(),
            jit_compile=trainer.jit_compile,
            steps_per_execution=trainer.steps_per_execution,
        )
        # Built now rather than at the first step, so that a checkpoint can restore its state.
        self.network.optimizer.build(self.network.trainable_variables)

    @classmethod
    def name(cls) -> str:
        """The registry name: the model's module, which is also its `conf/model/<name>.yaml`."""
        return cls.__module__.rsplit(".", 1)[-1]

    def build_network(self, input_shape: tuple[int, ...], num_outputs: int) -> keras.Model:
        """Return an uncompiled Keras model mapping `input_shape` inputs to `num_outputs` linear outputs
        (logits of the classes or labels, or the regression values)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_network")

    def head(self, outputs: keras.KerasTensor) -> keras.KerasTensor:
        """The network's outputs as the loss takes them: float32 (under mixed precision) and, for
        regression, back in the targets' raw units (the network learns them standardised with the
        train split's mean and std, kept in the run's preprocessing record)."""
        import keras

        if outputs.dtype != "float32":
            outputs = keras.ops.cast(outputs, "float32")
        stats = self.preprocessing
        if self.task == "regression" and stats is not None and stats.target_mean is not None:
            std = np.where(np.asarray(stats.target_std) > 1e-7, stats.target_std, 1.0).astype("float32")
            outputs = outputs * std + np.asarray(stats.target_mean, dtype="float32")
        return outputs

    def loss(self) -> keras.losses.Loss:
        import keras

        if self.task == "multilabel":
            return keras.losses.BinaryCrossentropy(from_logits=True)
        if self.task == "regression":
            return keras.losses.MeanSquaredError()
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def metrics(self) -> list:
        """The task's metrics, named as `TASK_METRICS` lists them (`val_` + name in the logs)."""
        import keras

        if self.task == "multilabel":
            return [keras.metrics.BinaryAccuracy(threshold=0.0, name="binary_accuracy"),  # logit 0 = p 0.5
                    keras.metrics.AUC(from_logits=True, multi_label=True, num_labels=self.num_outputs, name="auc"),
                    _logits_f1(name="f1")]
        if self.task == "regression":
            return [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.RootMeanSquaredError(name="rmse")]
        return ["accuracy"]

    @classmethod
    def best_config_path(cls, dataset: str) -> Path:
        # Not conf/best/: Hydra takes every folder of conf/ for a config group, and `best=true` must
        # stay a plain boolean.
        return CONF_DIR / "best_params" / f"{cls.name()}_{dataset}.yaml"

    @classmethod
    def best_config(cls, dataset: str) -> dict[str, Any] | None:
        """The best known hyper-parameters on `dataset` as `{config key: value}`: the seed article's
        `best` configuration, shipped in `conf/best_params/<model>_<dataset>.yaml`, applied by `best=true`."""
        path = cls.best_config_path(dataset)
        return OmegaConf.to_container(OmegaConf.load(path)) if path.exists() else None

    @staticmethod
    def seed_everything(seed: int, deterministic: bool) -> None:
        """Seed Python, NumPy and TensorFlow; `deterministic` also makes TensorFlow's kernels repeatable."""
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()

    def fit(self, train: tf.data.Dataset, val: tf.data.Dataset, steps_per_epoch: int, initial_epoch: int = 0,
            callbacks: tuple = ()) -> dict[str, list[float]]:
        """Train from `initial_epoch` up to `trainer.epochs`; returns the history of the epochs run.

        `train` must yield the batches of every epoch from `initial_epoch` on, one after the other
        (see `data.pipeline.training_batches`). The model adds what belongs to how it learns (the
        learning-rate schedule, dropout randomness tied to the epoch); `callbacks` are the
        caller's (checkpoints, logs, pruning), run after those. To continue a run, load its
        checkpoint first (`load_checkpoint`): weights, optimizer state and, through the schedule,
        the learning rate carry on.
        """
        import keras

        from models.callbacks import EpochRandomness

        epochs = self.config.trainer.epochs
        schedule = keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: learning_rate_at(epoch, self.config.optimizer, epochs))
        history = self.network.fit(train, validation_data=val, epochs=epochs, initial_epoch=initial_epoch,
                                   steps_per_epoch=steps_per_epoch, callbacks=[schedule, EpochRandomness(), *callbacks],
                                   shuffle=False, verbose=0)
        return history.history

    def evaluate(self, data: tf.data.Dataset) -> dict[str, float]:
        results = self.network.evaluate(data, verbose=0, return_dict=True)
        return {name: float(value) for name, value in results.items()}

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """The task's outputs for one element (shape `input_shape`) or a batch of them: class
        probabilities (classification), per-label probabilities (multilabel) or values (regression)."""
        import keras

        inputs = np.asarray(inputs, dtype="float32")
        single = inputs.shape == self.input_shape
        batch = inputs[None] if single else inputs
        if batch.shape[1:] != self.input_shape:
            raise UserError(f"input shape {inputs.shape} does not match the model: expected "
                            f"{self.input_shape} for one element or (N, {', '.join(map(str, self.input_shape))}) "
                            "for a batch")
        # called directly, chunk by chunk: `Model.predict` builds a tf.data pipeline whose op attributes
        # make TensorFlow's C++ runtime print a warning line on every call
        outputs = np.concatenate([keras.ops.convert_to_numpy(self.network(batch[start:start + 1024], training=False))
                                  for start in range(0, len(batch), 1024)])
        if self.task == "classification":
            outputs = keras.activations.softmax(outputs)
        elif self.task == "multilabel":
            outputs = keras.activations.sigmoid(outputs)
        outputs = keras.ops.convert_to_numpy(outputs)
        return outputs[0] if single else outputs

    def load_checkpoint(self, path: Path) -> None:
        """Restore weights and optimizer state from a `.keras` file saved during training."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"checkpoint {path} does not exist")
        try:
            _load_strictly(self.network, path)
        except Exception as error:  # Keras raises many types for a damaged or foreign file
            if "optimizer" not in str(error).lower():
                raise UserError(f"checkpoint {path} cannot be loaded into {type(self).__name__}: "
                                f"{first_line(error)}") from error
            # mixed_float16 wraps the optimizer in a LossScaleOptimizer, so its state has another
            # shape: across precisions the weights load (through a twin that shares the layers
            # and has no optimizer) and the optimizer starts afresh.
            import keras

            try:
                _load_strictly(keras.Model(self.network.inputs, self.network.outputs), path)
            except Exception:
                raise UserError(f"checkpoint {path} cannot be loaded into {type(self).__name__}: "
                                f"{first_line(error)}") from error
            log.warning("%s: its optimizer state does not fit this precision's optimizer (loss scaling of "
                        "mixed_float16); the weights are loaded, the optimizer starts afresh", path)

    def summary(self) -> str:
        lines: list[str] = []
        self.network.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
        return "\n".join(lines)


def _logits_f1(name: str):
    """Micro-averaged F1 of multilabel logits at probability 0.5 (Keras' F1Score takes probabilities)."""
    import keras

    class LogitsF1(keras.metrics.F1Score):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_true, keras.activations.sigmoid(y_pred), sample_weight)

    return LogitsF1(average="micro", threshold=0.5, name=name)


def _load_strictly(network: keras.Model, path: Path) -> None:
    with warnings.catch_warnings():
        # Keras only warns when a file lacks some layers, and keeps fresh weights for them.
        warnings.simplefilter("error", UserWarning)
        network.load_weights(str(path))


def monitor_mode(metric: str) -> str:
    """'min' for a loss, 'max' for anything else (accuracy)."""
    return "min" if "loss" in metric else "max"
