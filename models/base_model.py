"""The base class every model subclasses: one configuration in, a compiled Keras network out.

After the seed article's basic model, the base owns what all models share: compiling with the
configured optimizer, fitting with the learning-rate schedule and repeatable randomness,
evaluating, predicting on a batch or a single element, restoring checkpoints, and seeding. Where
a run writes (checkpoints, logs) is the training stage's business: it hands those callbacks in.
A subclass declares its hyper-parameters as a `Config` dataclass and builds its network in
`build_network`; that is all a new model needs (see `models/mlp.py`).

The network may be any Keras model: functional, Sequential, or a `keras.Model` subclass with its
own `call`, `train_step`, `test_step`, `compute_loss` or `compile` (a VAE, a GAN, a distiller; see
`models/vae.py`). The base only adds its task head (float32 outputs, regression targets back in raw
units) to a network that trains by Keras' standard supervised step; a network with a step of its
own is compiled and fitted as it is, and its step is never replaced.

TensorFlow is imported inside the methods that use it, never when this module is imported: the
model registry and the configuration checks import every model file, and they must answer in a
fraction of a second, before TensorFlow's start-up.
"""

from __future__ import annotations

import inspect
import logging
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from omegaconf import DictConfig, OmegaConf

from conf import CONF_DIR, PROJECT_ROOT
from conf.errors import UserError, first_line
from conf.schema import TASKS, ModelConfig, is_sequence, optimized_metrics, target_tasks

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
    if optimizer.schedule == "step":  # He et al. 2016: divided by 10 after given epochs (counted from 1)
        return base * optimizer.gamma ** sum(epoch + 1 > milestone for milestone in optimizer.milestones)
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


# The methods of keras.Model that make a training step; a network class that overrides one of them
# trains its own way, and the base model leaves it as it is.
STEP_METHODS = ("train_step", "test_step", "compute_loss", "compute_metrics", "compile")
EVALUATION_DRAWS = 2**62  # the seed generators' counter while evaluating: apart from every epoch's


class BaseModel:
    """A model built from the run's configuration for the dataset's task; subclasses build the network.

    The task (`dataset.task`) picks what the network's outputs mean and how they are trained:
    classification: one logit per class, sparse categorical cross-entropy, accuracy; multilabel:
    one logit per label, binary cross-entropy, binary accuracy, AUC and F1; regression: one value
    per output in the targets' raw units, mean squared error, MAE and RMSE; unsupervised: features
    only, no labels, whatever loss the network's own step (or `add_loss`) computes.

    Example:
        model = MLP(cfg)                 # cfg: the composed config of `conf/config.yaml`
        model.fit(train, val, steps_per_epoch=20)
        model.predict(image)             # one element or a batch -> the task's outputs

    Hooks, Keras-style: a subclass defines `build_network` and may override `loss()`, `metrics()`,
    `head(outputs)` (networks trained by Keras' standard step), `compile_network(network)` (a network
    whose `compile` takes other arguments, or that has several optimizers) and `outputs(inputs)` (what
    infer prints and the SavedModel returns). `trainer.monitor` and `optimized_metric` are checked
    against the task's metric names (`conf.schema.TASK_METRICS`) and `reported_metrics` before
    TensorFlow starts.
    Class attributes:
        Config: the dataclass of the model's hyper-parameters, registered as its config schema.
        search_space: hyper-parameter search space in Hydra's sweep grammar
            (`{"model.dropout": "interval(0.0, 0.5)"}`), used when a search names no params.
        reported_metrics: what the network reports besides the task's metrics, and whether each is
            minimised or maximised (`{"reconstruction_loss": "min", "kl_loss": "min"}`): they can be
            monitored, searched and sorted on like the task's, and a run stops with one line at the end
            of its first epoch if one of them is missing from the logs.
        tasks: the `dataset.task`s the model trains on (checked before TensorFlow starts); the base
            model's standard step serves the three supervised ones.
        named_inputs, named_outputs: whether `build_network` takes a dict of input shapes by feature
            name (a dataset with `features`) and returns a dict of outputs by target name (a dataset with
            `targets`); each target then gets its task's head, loss (weighted by its `loss_weight`) and
            metrics, reported as `<target>_<metric>` (`val_digit_accuracy`).
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    search_space: ClassVar[dict[str, str]] = {}
    reported_metrics: ClassVar[dict[str, str]] = {}
    tasks: ClassVar[tuple[str, ...]] = tuple(task for task in TASKS if task != "unsupervised")
    named_inputs: ClassVar[bool] = False  # build_network takes {feature: shape} (`dataset.features`)
    named_outputs: ClassVar[bool] = False  # the network returns {target: outputs} (`dataset.targets`)
    takes_sequences: ClassVar[bool] = False  # build_network takes (None,) token ids or (None, channels) steps

    def __init__(self, config: DictConfig, preprocessing: Any = None) -> None:
        self.config = config
        self.hparams = config.model
        self.task = config.dataset.task
        self.preprocessing = preprocessing
        self.num_classes = config.dataset.num_classes
        self.targets = target_tasks(config.dataset)  # {name: task} of named targets, else {}
        features = OmegaConf.to_container(config.dataset.features) if config.dataset.get("features") else {}
        self.input_shape = ({name: tuple(f["shape"]) for name, f in features.items()} if features
                            else tuple(config.dataset.input_shape))
        if self.targets:
            self.num_outputs = {name: int(t.get("num_outputs", 1) if t["task"] == "regression" else t["num_classes"])
                                for name, t in OmegaConf.to_container(config.dataset.targets).items()}
        else:
            self.num_outputs = config.dataset.num_outputs if self.task in ("regression", "unsupervised") \
                else self.num_classes
        for named, declared, what in ((features, self.named_inputs, "features"), (self.targets, self.named_outputs,
                                                                                   "targets")):
            if named and not declared:
                raise UserError(f"model {type(self).__name__} ({self.where()}) takes one input and one output; dataset "
                                f"{config.dataset.name} has named {what} {', '.join(named)}: use a model that "
                                f"declares named_inputs = True and named_outputs = True")
            if declared and not named:
                raise UserError(f"model {type(self).__name__} ({self.where()}) takes named {what}; dataset "
                                f"{config.dataset.name} has none: use a dataset with dataset.{what} (e.g. "
                                "dataset=digit_features)")
        self._read_sequences(config)
        network = self.build_network(self.input_shape, self.num_outputs)
        self.own_step = self._check_network(network)
        if self.own_step:
            self._keep_own_step(network)
        else:
            network = self._with_head(network)
        self.network = network
        try:
            self.compile_network(network)
        except TypeError as error:
            if "compile" not in str(error):
                raise
            raise UserError(f"{self.where()}: {type(network).__name__}.compile takes other arguments "
                            f"({first_line(error)}): override compile_network(network) in {type(self).__name__} "
                            "to compile it") from None
        if self.own_step and not network.built and network.variables:
            # never called (its step calls its sub-networks, built from keras.Input): Keras saves and loads
            # the weights of a built model only, and every weight of this one exists
            network.built = True
        self._build_optimizers()
        self.base_learning_rates = [float(keras_value(o.learning_rate)) for o in self.optimizers()]
        from models.callbacks.epoch_randomness import initial_seeds

        self.initial_seeds = initial_seeds(network)

    def _read_sequences(self, config: DictConfig) -> None:
        """What a model of sequences needs to know: whether it reads token ids (`vocabulary_size` of them,
        0 = padding) or numeric steps (padded with `padding_value`), and `max_length`."""
        shape = self.input_shape
        self.sequences = is_sequence(shape)
        tokenizer = getattr(self.preprocessing, "tokenizer", None)
        self.vocabulary_size = len(tokenizer["vocabulary"]) if self.sequences and tokenizer else None
        if self.sequences and config.dataset.get("dtype") == "string" and not tokenizer:
            raise UserError(f"model={self.name()} on text needs the run's preprocessing record with its vocabulary "
                            f"(preprocessing.json's tokenizer): dataset {config.dataset.name} was prepared with "
                            "dataset.tokenizer, which the record keeps")
        self.input_dtype = "int32" if self.vocabulary_size else "float32"
        self.padding_value = float(config.dataset.get("padding_value", 0.0))
        self.max_length = config.dataset.get("max_length")
        if self.sequences and not self.takes_sequences:
            raise UserError(f"model={self.name()} takes inputs of one fixed shape; dataset {config.dataset.name} "
                            f"holds sequences of any length ({'text' if self.vocabulary_size else 'steps'}): use "
                            "model=rnn or model=transformer, or a model that declares takes_sequences = True")
        if self.takes_sequences and not self.sequences:
            raise UserError(f"model={self.name()} takes sequences; dataset {config.dataset.name} has inputs of "
                            f"shape {list(shape) if not isinstance(shape, dict) else 'by name'}: use a text or "
                            "sequence dataset (input_shape [null] or [null, channels], e.g. dataset=topics)")

    @classmethod
    def name(cls) -> str:
        """The registry name: the model's module, which is also its `conf/model/<name>.yaml`."""
        return cls.__module__.rsplit(".", 1)[-1]

    @classmethod
    def where(cls) -> str:
        """The model's file, as error messages name it (`models/vae.py`)."""
        try:
            path = Path(inspect.getsourcefile(cls) or "").resolve()
            return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
        except (TypeError, OSError):
            return cls.__module__

    def build_network(self, input_shape: tuple[int, ...], num_outputs: int) -> keras.Model:
        """Return an uncompiled Keras model mapping `input_shape` inputs to `num_outputs` linear outputs
        (logits of the classes or labels, or the regression values); or any `keras.Model` with its own
        training step, which then decides what it outputs."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_network")

    @classmethod
    def require_image_input(cls, input_shape: Any) -> None:
        """A UserError unless the input is an image, shaped (height, width, channels): for convolutional models."""
        if isinstance(input_shape, dict) or len(input_shape) != 3:
            raise UserError(f"model={cls.name()} needs image-shaped inputs (height, width, channels); "
                            f"dataset.input_shape is {list(input_shape)}")

    def _check_network(self, network: Any) -> bool:
        """Whether `network` trains by a step of its own; a UserError if it is no Keras model."""
        import keras

        if not isinstance(network, keras.Model):
            raise UserError(f"{self.where()}: {type(self).__name__}.build_network returned "
                            f"{type(network).__name__}; it must return a keras.Model (functional, Sequential, "
                            "or a subclass with its own call or train_step)")
        return any(getattr(type(network), method) is not getattr(keras.Model, method) for method in STEP_METHODS)

    def _with_head(self, network: keras.Model) -> keras.Model:
        """The network with `head` on its output, as a model of the same layers (or the network itself
        when the head changes nothing). A subclass with its own `call` is called once, symbolically."""
        import keras

        if self.targets:
            return self._with_named_heads(network)
        functional = graph_io(network)
        graph = functional
        if graph is None:
            inputs = keras.Input(self.input_shape, dtype=self.input_dtype)
            try:
                raw = network(inputs)
            except Exception as error:
                raise UserError(f"{self.where()}: {type(network).__name__} cannot be called on "
                                f"keras.Input({self.input_shape}): {first_line(error)}") from None
            graph = inputs, list(raw) if isinstance(raw, (list, tuple)) else [raw]
        inputs, raw = graph
        if len(raw) != 1:
            raise UserError(f"{self.where()}: {type(network).__name__} has {len(raw)} outputs; a network trained "
                            f"by the standard step of task {self.task} has one (give it a train_step of its own "
                            "for more)")
        outputs = self.head(raw[0])
        if outputs is raw[0] and functional is not None:
            return network
        # operations, not layers: checkpoints hold the same layers whatever the head and precision
        return keras.Model(inputs, outputs, name=network.name)

    def _with_named_heads(self, network: keras.Model) -> keras.Model:
        """A functional network of named outputs with each target's head on its output."""
        import keras

        outputs = getattr(network, "output", None) if graph_io(network) is not None else None
        if not isinstance(outputs, dict) or set(outputs) != set(self.targets):
            raise UserError(f"{self.where()}: {type(self).__name__}.build_network must return a functional model whose "
                            f"outputs are a dict by target name: {', '.join(self.targets)}")
        return keras.Model(network.input, {name: self.head(outputs[name], name) for name in self.targets},
                           name=network.name)

    def _keep_own_step(self, network: keras.Model) -> None:
        """A network with its own step keeps it. Its `train_step` must return a dict of scalars (checked when
        traced, with one line naming the model file); one that overrides only `train_step` (the Keras
        guide's VAE) validates by running that step on the validation data with every optimizer's update
        switched off: its validation reports the same metrics, measured on data it does not learn from."""
        import keras

        cls, where = type(network), self.where()
        train_step = network.train_step
        network.train_step = checked_step(train_step, f"{where}: {cls.__name__}.train_step")
        if cls.train_step is not keras.Model.train_step and cls.test_step is keras.Model.test_step:
            def validation_step(data):
                with updates_switched_off(self.optimizers()):
                    return train_step(data)

            network.test_step = checked_step(validation_step, f"{where}: {cls.__name__}.train_step (validating)")
        elif cls.test_step is not keras.Model.test_step:
            network.test_step = checked_step(network.test_step, f"{where}: {cls.__name__}.test_step")

    def compile_network(self, network: keras.Model) -> None:
        """Compile the network with the configured optimizer (`make_optimizer`), the task's loss and metrics
        (for the standard step) and the trainer's XLA and steps-per-execution settings.

        Override it for a network whose `compile` takes other arguments or that has several optimizers;
        build every optimizer there on the variables it trains (`optimizer.build(variables)`), so that a
        checkpoint can restore its state. A network with its own step gets no loss scaling under
        mixed_float16 (scale in the step with `optimizer.scale_loss` where float16 gradients underflow).
        """
        import keras

        trainer = self.config.trainer
        task_loss = self.task != "unsupervised" and type(network).train_step is keras.Model.train_step
        weights = {name: float(target.get("loss_weight", 1.0)) for name, target in
                   OmegaConf.to_container(self.config.dataset.targets).items()} if self.targets else None
        network.compile(
            optimizer=self.make_optimizer(),
            loss=self.loss() if task_loss else None,
            loss_weights=weights if task_loss else None,
            metrics=self.metrics() if task_loss else None,
            jit_compile=trainer.jit_compile,
            steps_per_execution=trainer.steps_per_execution,
            auto_scale_loss=not self.own_step,
        )

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """A new optimizer as `optimizer.*` configures it (call it once per optimizer a network needs)."""
        return make_optimizer(self.config.optimizer)

    def optimizers(self) -> list:
        """Every optimizer of the network (`network_optimizers`)."""
        return network_optimizers(self.network)

    def _build_optimizers(self) -> None:
        """Built now rather than at the first step, so that a checkpoint can restore their state."""
        main = getattr(self.network, "optimizer", None)
        if main is not None and not main.built:
            main.build(self.network.trainable_variables)
        others = [o for o in self.optimizers() if o is not main]
        unbuilt = [name for name, value in vars(self.network).items()
                   if any(value is o for o in others) and not value.built]
        if unbuilt:
            raise UserError(f"{self.where()}: optimizer {unbuilt[0]} of {type(self.network).__name__} is not built "
                            f"after {type(self).__name__}.compile_network: build it there on the variables it "
                            f"trains ({unbuilt[0]}.build(<sub-network>.trainable_variables)), so that checkpoints "
                            "can restore it")

    def head(self, outputs: keras.KerasTensor, target: str | None = None) -> keras.KerasTensor:
        """The network's outputs (of a named `target`) as the loss takes them: float32 (under mixed precision)
        and, for regression, back in the targets' raw units (the network learns them standardised with the
        train split's mean and std, kept in the run's preprocessing record)."""
        import keras

        if outputs.dtype != "float32":
            outputs = keras.ops.cast(outputs, "float32")
        task = self.targets[target] if target else self.task
        stats = self.preprocessing.target_stats(target) if self.preprocessing is not None else None
        if task == "regression" and stats is not None:
            mean, std = stats
            std = np.where(np.asarray(std) > 1e-7, std, 1.0).astype("float32")
            outputs = outputs * std + np.asarray(mean, dtype="float32")
        return outputs

    def loss(self) -> keras.losses.Loss | dict[str, keras.losses.Loss]:
        """The task's loss (of each named target)."""
        if self.targets:
            return {name: task_loss(task) for name, task in self.targets.items()}
        return task_loss(self.task)

    def metrics(self) -> list | dict[str, list]:
        """The task's metrics, named as `TASK_METRICS` lists them (`val_` + name in the logs; of each named
        target, `val_<target>_` + name)."""
        if self.targets:
            return {name: task_metrics(task, self.num_outputs[name]) for name, task in self.targets.items()}
        return task_metrics(self.task, self.num_outputs)

    def outputs(self, inputs: Any, threshold: float = 0.5) -> dict[str, Any]:
        """What `infer` prints and the exported SavedModel returns, by name, for a batch of normalised inputs.

        The default reads the network's outputs as the task does: `probabilities` and `class`
        (classification), `probabilities` and `labels` (bool, at or above `threshold`; multilabel),
        `values` (regression); of named targets, each as its task does, as `<target>_<name>`
        (`digit_class`, `ink_values`). Override it to name what a model of your own offers (a VAE's
        `reconstruction` and `latent_mean`); it runs eagerly (infer) and traced (export), so use
        `keras.ops`. `denormalized(x)` turns features back into the dataset's raw units.
        """
        import keras

        if self.task == "unsupervised" and not self.targets:
            return {"outputs": keras.ops.cast(self.network(inputs, training=False), "float32")}
        outputs = self.network(inputs, training=False)
        if self.targets:
            return {f"{name}_{key}": value for name, task in self.targets.items()
                    for key, value in task_outputs(task, outputs[name], threshold).items()}
        return task_outputs(self.task, outputs, threshold)

    def denormalized(self, features: Any) -> Any:
        """Normalised features (as the network sees them) back in the dataset's raw units."""
        if self.preprocessing is None:
            return features
        if isinstance(features, dict):
            return {name: self._denormalized(value, self.preprocessing.feature(name))
                    for name, value in features.items()}
        return self._denormalized(features, self.preprocessing)

    @staticmethod
    def _denormalized(features: Any, preprocessing: Any) -> Any:
        import keras

        shift, divisor = preprocessing.feature_transform()
        batch = keras.ops.shape(features)[0]
        flat = keras.ops.reshape(keras.ops.cast(features, "float32"), (batch, -1)) * divisor + shift
        return keras.ops.reshape(flat, keras.ops.shape(features))

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
            # Grappler's arithmetic optimizer turns chains of additions into accumulations that sum in the
            # order their inputs arrive, which op determinism does not cover (tensorflow#51716): the total
            # loss of the Keras guide's VAE then differed in its last bit from one run to the next
            tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})

    def fit(self, train: tf.data.Dataset, val: tf.data.Dataset, steps_per_epoch: int, initial_epoch: int = 0,
            callbacks: tuple = ()) -> dict[str, list[float]]:
        """Train from `initial_epoch` up to `trainer.epochs`; returns the history of the epochs run.

        `train` must yield the batches of every epoch from `initial_epoch` on, one after the other
        (see `data.pipeline.training_batches`). The model adds what belongs to how it learns (the
        learning-rate schedule of every optimizer, random draws tied to the epoch, the check that the
        metrics the run needs are reported); `callbacks` are the caller's (checkpoints, logs,
        pruning), run after those. To continue a run, load its checkpoint first (`load_checkpoint`):
        weights, optimizer state and, through the schedule, the learning rate carry on.
        """
        from models.callbacks import EpochRandomness, LearningRateSchedule, ReportedMetricsCheck

        epochs, optimizer = self.config.trainer.epochs, self.config.optimizer
        # each optimizer follows the schedule from the rate it was built with (most: optimizer.lr itself)
        scales = [1.0 if np.float32(base) == np.float32(optimizer.lr) else base / optimizer.lr
                  for base in self.base_learning_rates]
        rates = [[learning_rate_at(epoch, optimizer, epochs) * scale for epoch in range(epochs)] for scale in scales]
        own = [LearningRateSchedule(self.optimizers(), rates),
               EpochRandomness(self.initial_seeds), ReportedMetricsCheck(self.needed_metrics(), self.where())]
        build_compiled_state(self.network, getattr(train, "element_spec", None))
        history = self.network.fit(train, validation_data=val, epochs=epochs, initial_epoch=initial_epoch,
                                   steps_per_epoch=steps_per_epoch, callbacks=[*own, *callbacks],
                                   shuffle=False, verbose=0)
        return history.history

    def needed_metrics(self) -> dict[str, str]:
        """The epoch log names a run needs, each with the setting that needs it: `trainer.monitor`, the
        train and validation `optimized_metric`, and the model's `reported_metrics`."""
        needed = {name: f"{type(self).__name__}.reported_metrics" for declared in self.reported_metrics
                  for name in (declared, f"val_{declared}")}
        searched = self.config.optimized_metric is not None or self.config.trial.number is not None
        metrics = optimized_metrics(self.config.optimized_metric, self.task, self.config.dataset.get("targets"))
        for metric in metrics if searched else []:
            split, _, name = metric.partition("_")
            if split in ("train", "val"):
                needed[name if split == "train" else metric] = "optimized_metric"
        needed[self.config.trainer.monitor] = "trainer.monitor"
        return needed

    def evaluate(self, data: tf.data.Dataset) -> dict[str, float]:
        """The network's metrics on `data`, with its random draws (a VAE's noise) started afresh from the
        run's seeds, so that an evaluation repeats whatever ran before it."""
        from models.callbacks.epoch_randomness import reset_seed_states

        reset_seed_states(self.network, self.initial_seeds, EVALUATION_DRAWS)
        build_compiled_state(self.network, getattr(data, "element_spec", None))
        results = self.network.evaluate(data, verbose=0, return_dict=True)
        return {name: float(value) for name, value in results.items()}

    def predict_outputs(self, inputs: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
        """Every named output (`outputs`) for a batch of normalised inputs, as NumPy arrays, 1024 at a time."""
        import keras

        from models.callbacks.epoch_randomness import reset_seed_states

        reset_seed_states(self.network, self.initial_seeds, EVALUATION_DRAWS)
        chunks = []
        count = len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)
        for start in range(0, count, 1024):
            # called directly, chunk by chunk: `Model.predict` builds a tf.data pipeline whose op attributes
            # make TensorFlow's C++ runtime print a warning line on every call
            chunk = ({name: keras.ops.convert_to_tensor(value[start:start + 1024]) for name, value in inputs.items()}
                     if isinstance(inputs, dict) else keras.ops.convert_to_tensor(inputs[start:start + 1024]))
            try:
                named = self.outputs(chunk, threshold)
            except NotImplementedError as error:
                raise UserError(f"{self.where()}: {type(self.network).__name__} cannot be called "
                                f"({first_line(error)}): override outputs(inputs) in {type(self).__name__} to say "
                                "what infer and export return") from None
            chunks.append({name: keras.ops.convert_to_numpy(value) for name, value in named.items()})
        return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """The first named output for one element (shape `input_shape`) or a batch of normalised inputs: class
        probabilities (classification), per-label probabilities (multilabel), values (regression), or what
        the model's `outputs` names first."""
        if isinstance(inputs, dict):  # named features: a batch of each
            return next(iter(self.predict_outputs({k: np.asarray(v, "float32") for k, v in inputs.items()}).values()))
        inputs = np.asarray(inputs, dtype="float32")
        single = inputs.shape == self.input_shape
        batch = inputs[None] if single else inputs
        if batch.shape[1:] != self.input_shape:
            raise UserError(f"input shape {inputs.shape} does not match the model: expected "
                            f"{self.input_shape} for one element or (N, {', '.join(map(str, self.input_shape))}) "
                            "for a batch")
        outputs = next(iter(self.predict_outputs(batch).values()))
        return outputs[0] if single else outputs

    def load_checkpoint(self, path: Path) -> None:
        """Restore weights and optimizer state from a `.keras` file saved during training."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"checkpoint {path} does not exist")
        if not self.network.variables:
            raise UserError(f"{self.where()}: {type(self.network).__name__} has no weights before it trains, so "
                            f"checkpoint {path} cannot be loaded into it: build its layers from keras.Input")
        try:
            _load_strictly(self.network, path)
        except Exception as error:  # Keras raises many types for a damaged or foreign file
            graph = graph_io(self.network)
            if "optimizer" not in str(error).lower() or graph is None:
                raise UserError(f"checkpoint {path} cannot be loaded into {type(self).__name__}: "
                                f"{first_line(error)}") from error
            # mixed_float16 wraps the optimizer in a LossScaleOptimizer, so its state has another
            # shape: across precisions the weights load (through a twin that shares the layers
            # and has no optimizer) and the optimizer starts afresh.
            import keras

            try:
                _load_strictly(keras.Model(*graph), path)
            except Exception:
                raise UserError(f"checkpoint {path} cannot be loaded into {type(self).__name__}: "
                                f"{first_line(error)}") from error
            log.warning("%s: its optimizer state does not fit this precision's optimizer (loss scaling of "
                        "mixed_float16); the weights are loaded, the optimizer starts afresh", path)

    def summary(self) -> str:
        lines: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a subclassed network that was never called is "unbuilt"
            self.network.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
        return "\n".join(lines)


def graph_io(network: keras.Model) -> tuple[list, list] | None:
    """A functional (or built Sequential) network's symbolic inputs and outputs; None for a subclass."""
    try:
        return list(network.inputs), list(network.outputs)
    except (AttributeError, ValueError, TypeError):
        return None


def build_compiled_state(network: keras.Model, element_spec: Any) -> None:
    """Create the compiled loss's and metrics' variables before the first step is traced.

    Without a distribution strategy, Keras's TensorFlow trainer creates them inside the first trace of
    `train_step` (or `test_step`), and `tf.function` traces a function that created variables a second
    time: every run paid for two traces of its step (0.7 s of CPU for the MLP, 3.4 s for ResNet-20, and
    again in every trial of a sweep; benchmarks/step_traces.py). Built here from the batches' specs, as
    Keras itself does under a strategy and on its other backends, the step is traced once. Skipped where
    there is nothing to build, where a strategy is set (Keras builds them then, in the strategy's scope),
    and where the batches are not a `tf.data` dataset of dense tensors (ragged text, arrays): Keras then
    builds them as before."""
    import tensorflow as tf

    metrics, loss = getattr(network, "_compile_metrics", None), getattr(network, "_compile_loss", None)
    unbuilt = (metrics is not None and not metrics.built) or (loss is not None and not loss.built)
    if not unbuilt or not hasattr(network, "_symbolic_build") or getattr(network, "_distribute_strategy", None):
        return
    if not all(isinstance(leaf, tf.TensorSpec) for leaf in tf.nest.flatten(element_spec)):
        return
    network._symbolic_build(data_batch=element_spec)


def network_optimizers(network: keras.Model) -> list:
    """Every optimizer of a network: `network.optimizer` and any other it holds as an attribute (a GAN's
    `d_optimizer` and `g_optimizer`)."""
    import keras

    found = [network.optimizer] if getattr(network, "optimizer", None) is not None else []
    for value in vars(network).values():
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not o for o in found):
            found.append(value)
    return found


def training_iterations(network: keras.Model) -> int:
    """Optimizer steps taken so far: the most of any of the network's optimizers (a GAN's two both step)."""
    return max((int(keras_value(o.iterations)) for o in network_optimizers(network)), default=0)


def keras_value(variable: Any) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(variable)


def checked_step(step, where: str):
    """`step`, checked when Keras traces it: it must return a dict of scalars (the epoch's metrics)."""
    def run(data):
        logs = step(data)
        if not isinstance(logs, dict) or not logs:
            raise UserError(f"{where} returned {type(logs).__name__}; it must return a dict of scalar metrics, "
                            "e.g. {'loss': loss}")
        for name, value in logs.items():
            shape = getattr(value, "shape", ())
            if not isinstance(name, str) or len(shape) != 0:
                raise UserError(f"{where} returned {name!r} of shape {list(shape)}; every value of its dict must "
                                "be a scalar (a metric's result(), a mean)")
        return logs

    return run


class updates_switched_off:
    """Within the block, every optimizer's `apply` and `apply_gradients` do nothing (a step traced inside
    it updates no weight): a model's own training step measured on validation data."""

    def __init__(self, optimizers: list) -> None:
        self.optimizers = optimizers

    def __enter__(self):
        for optimizer in self.optimizers:
            optimizer.apply = optimizer.apply_gradients = lambda *args, **kwargs: None

    def __exit__(self, *exc):
        for optimizer in self.optimizers:
            del optimizer.apply, optimizer.apply_gradients


def task_loss(task: str) -> keras.losses.Loss:
    import keras

    if task == "multilabel":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    if task == "regression":
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def task_metrics(task: str, outputs: int) -> list:
    """A task's metrics, named as `TASK_METRICS` lists them."""
    import keras

    if task == "multilabel":
        return [keras.metrics.BinaryAccuracy(threshold=0.0, name="binary_accuracy"),  # logit 0 = p 0.5
                keras.metrics.AUC(from_logits=True, multi_label=True, num_labels=outputs, name="auc"),
                _logits_f1(name="f1")]
    if task == "regression":
        return [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.RootMeanSquaredError(name="rmse")]
    return ["accuracy"]


def task_outputs(task: str, outputs: Any, threshold: float) -> dict[str, Any]:
    """A supervised task's named outputs from the network's linear outputs (logits or values)."""
    import keras

    if task == "regression":
        return {"values": outputs}
    if task == "multilabel":
        probabilities = keras.activations.sigmoid(outputs)
        return {"probabilities": probabilities, "labels": probabilities >= threshold}
    probabilities = keras.activations.softmax(outputs)
    return {"probabilities": probabilities, "class": keras.ops.argmax(probabilities, axis=-1)}


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
