"""Typed schemas of the configuration, checked before TensorFlow is imported.

Hydra merges every YAML file of `conf/` and every shell override into these dataclasses, so a
wrong type or an unknown key fails while the configuration is composed. Value ranges
(`trainer.epochs=0`, `optimizer.lr=-1`) are checked by each dataclass's `__post_init__`, which
`validate_config` runs. Each model declares its own schema next to its network in `models/`, each
dataset next to its source in `data/`; those packages push them in here (`register_schema`) when
they are imported, so this module imports nothing of the project but the error types.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from conf.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step")
STAGES = ("train", "evaluate", "infer", "export")
CACHE_MODES = ("auto", "memory", "none")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
DISTRIBUTIONS = ("none", "mirrored")
DEVICE_NAME = re.compile(r"^/(cpu|gpu):\d+$", re.IGNORECASE)
TASKS = ("classification", "multilabel", "regression", "unsupervised")
# The metrics each task's model reports (loss first, then the task's main metric); `trainer.monitor`
# and `optimized_metric` name one of them, or one a model declares (`MODEL_METRICS`), with `val_` or
# a split prefix. Unsupervised models report their loss and whatever they declare.
TASK_METRICS = {"classification": ("loss", "accuracy"),
                "multilabel": ("loss", "auc", "binary_accuracy", "f1"),
                "regression": ("loss", "mae", "rmse"),
                "unsupervised": ("loss",)}
# What each model class declares it reports besides its task's metrics, by every `_target_` that
# names it: {"models.VAE": {"reconstruction_loss": "min", "kl_loss": "min"}}. The model registry
# fills it as it imports each model file (`register_model_metrics`), so this module imports no model.
MODEL_METRICS: dict[str, dict[str, str]] = {}
MODEL_TASKS: dict[str, tuple[str, ...]] = {}  # likewise, the tasks each model class trains on
METRIC_MODES = ("min", "max")
SPLIT_PREFIXES = ("train", "val", "test")
NORMALIZATIONS = ("scale", "standardize", "none")
# Augmentations of image batches and the parameters each takes (all optional).
AUGMENTATIONS = {"flip": ("mode",), "translate": ("factor",), "rotate": ("factor",), "contrast": ("factor",),
                 "crop": ("padding",)}
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


# Bounds a config is checked against before anything is allocated: a value past them is a typo or
# a crafted run folder, and would otherwise end in an allocation failure deep inside TensorFlow.
MAX_UNITS = 1 << 20  # units of a layer, filters of a convolution
# the loggers of logger= and the settings each takes (conf/logger/<name>.yaml)
LOGGERS = {"tensorboard": (), "csv": (), "mlflow": ("tracking_uri", "experiment_name"),
           "wandb": ("project", "entity", "mode", "group", "tags")}
WANDB_MODES = ("online", "offline", "disabled")


def require(condition: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ConfigError naming the key, the value given and what is allowed, unless condition holds."""
    if not condition:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def require_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    require(value in choices, key, value, f"must be one of {', '.join(choices)}")


DATASET_NAMES: list[str] = []  # every dataset source; `data` adds them as it is imported
# Sources that read another library's datasets (TensorFlow Datasets, Hugging Face) fill the keys a config
# leaves to them (input_shape, num_classes, task, ...) from that dataset's own description before the
# schema's checks run: {source: complete(dataset node)}; `data` registers them, this module never imports it.
DATASET_COMPLETERS: dict[str, Any] = {}


@dataclass
class ModelConfig:
    """What every model's schema holds; a model subclasses it with its own hyper-parameters."""

    _target_: str = "???"


@dataclass
class DatasetConfig:
    """A classification dataset prepared once into `data/<name>/{train,val,test}/`."""

    name: str = "???"
    # the source that reads it (data/sources.py, data/datasets/); null: the one called `name`. A source of
    # another library's datasets (tfds, huggingface) sets it, and `name` is then that library's dataset name
    source: str | None = None
    # of one example; a null first size is a sequence of any length: [null] (text: tokens), [null, 3] (steps x channels)
    input_shape: list[Optional[int]] = field(default_factory=list)
    dtype: str | None = None  # the features' dtype where a source leaves it open: string (text), int64, float32
    num_classes: int = 2
    val_fraction: float = 0.15
    test_fraction: float | None = 0.15  # null: the dataset's official test split
    split_seed: int = 0
    scale: float = 1.0  # raw values are divided by this in the input pipeline
    cache: str = "auto"  # auto | memory | none: hold a split in memory (full shuffle) or stream its shards
    shuffle_window: int = 16384  # streamed splits: examples shuffled together (see README, "Data")
    task: str = "classification"  # classification | multilabel | regression: picks head, loss and metrics
    num_outputs: int = 1  # regression: values predicted per example
    normalize: str = "scale"  # scale (divide by `scale`) | standardize (train split's mean and std) | none
    augment: list[Any] = field(default_factory=list)  # image datasets: [{name: flip, mode: horizontal}, ...]
    # Several named inputs: {image: {shape: [8, 8, 1]}, tabular: {shape: [4], normalize: standardize}}, each
    # normalised as `normalize` and `scale` say unless it says otherwise; empty: one input of `input_shape`.
    features: dict[str, Any] = field(default_factory=dict)
    # Several named outputs: {digit: {task: classification, num_classes: 10}, size: {task: regression,
    # num_outputs: 1, loss_weight: 0.5}}, each with its own task; empty: one output of `task`.
    targets: dict[str, Any] = field(default_factory=dict)
    # Sequences (input_shape [null] or [null, channels]): batches are padded to their longest member
    max_length: int | None = None  # longer sequences are cut to this many steps (tokens); null keeps every step
    bucket_boundaries: list[int] = field(default_factory=list)  # training batches of lengths in the same bucket
    padding_value: float = 0.0  # numeric sequences: the value of a padded step after normalisation (masked)
    # Text (dtype string): {kind: words | characters | wordpiece, vocabulary_size: 20000, lowercase: true,
    # strip_punctuation: true}, fitted on the train split when the dataset is prepared
    tokenizer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source is None:
            require_choice("dataset.name", self.name, tuple(sorted(DATASET_NAMES)))
        else:
            require_choice("dataset.source", self.source, tuple(sorted(DATASET_NAMES)))
        self._check_sequences()
        features, targets = _plain(self.features) or {}, _plain(self.targets) or {}
        for name, feature in features.items():
            check_feature(f"dataset.features.{name}", name, feature)
        for name, target in targets.items():
            check_target(f"dataset.targets.{name}", name, target)
        require(not targets or self.task == "classification", "dataset.task", self.task,
                "is not used with dataset.targets, whose entries each name their task: leave it out")
        if features:
            require(not self.input_shape, "dataset.input_shape", self.input_shape,
                    "is not used with dataset.features, whose entries each give their shape: leave it out")
            require(not self.augment or any(len(f["shape"]) == 3 for f in features.values()), "dataset.augment",
                    _plain(self.augment),
                    "augmentation is for image features, whose shape is [height, width, channels]")
            for index, transform in enumerate(self.augment):
                check_augmentation(f"dataset.augment[{index}]", _plain(transform))
            return self._check_rest()
        if is_sequence(self.input_shape):
            return self._check_rest()
        require(bool(self.input_shape) and all(d is not None and d > 0 for d in self.input_shape),
                "dataset.input_shape", _plain(self.input_shape), "a non-empty list of positive sizes (a null first "
                "size for sequences: [null] or [null, channels])")
        if self.augment:
            require(len(self.input_shape) == 3, "dataset.augment", _plain(self.augment),
                    f"augmentation is for image datasets, whose input_shape is [height, width, channels]; "
                    f"this one is {list(self.input_shape)}")
        for index, transform in enumerate(self.augment):
            check_augmentation(f"dataset.augment[{index}]", _plain(transform))
        self._check_rest()

    def _check_sequences(self) -> None:
        """Sequence keys: a null size only first, text only as [null] with a tokenizer, no augmentation."""
        shape = _plain(self.input_shape) or []
        require(self.dtype is None or self.dtype in FEATURE_DTYPES, "dataset.dtype", self.dtype,
                f"must be one of {', '.join(FEATURE_DTYPES)}, or null for the dtype the source gives")
        require(None not in shape[1:] and (shape[:1] != [None] or len(shape) <= 2 and all(
            isinstance(d, int) and d > 0 for d in shape[1:])), "dataset.input_shape", shape,
            "a null size only as the first (time) axis of a sequence: [null] or [null, channels]")
        sequence = is_sequence(shape)
        require(self.dtype != "string" or shape == [None], "dataset.input_shape", shape,
                "text (dataset.dtype=string) is a sequence of tokens: input_shape [null]")
        require(self.dtype != "string" or bool(self.tokenizer), "dataset.tokenizer", _plain(self.tokenizer),
                "text (dataset.dtype=string) needs a tokenizer, e.g. {kind: words, vocabulary_size: 20000}")
        require(not self.tokenizer or self.dtype == "string", "dataset.tokenizer", _plain(self.tokenizer),
                "tokenizes text: it needs dataset.dtype=string")
        if self.tokenizer:
            check_tokenizer("dataset.tokenizer", _plain(self.tokenizer))
        require(self.max_length is None or self.max_length >= 1, "dataset.max_length", self.max_length,
                "must be >= 1, or null to keep every step")
        boundaries = list(self.bucket_boundaries)
        require(all(isinstance(b, int) and b >= 1 for b in boundaries) and boundaries == sorted(set(boundaries)),
                "dataset.bucket_boundaries", boundaries, "lengths >= 1 in increasing order, e.g. [32, 64, 128]")
        require(sequence or not boundaries and self.max_length is None, "dataset.max_length" if
                self.max_length is not None else "dataset.bucket_boundaries", self.max_length if
                self.max_length is not None else boundaries, "only sequences are cut or bucketed by length "
                "(input_shape [null] or [null, channels])")
        require(math.isfinite(self.padding_value), "dataset.padding_value", self.padding_value, "must be finite")
        require(not sequence or not self.augment, "dataset.augment", _plain(self.augment),
                "augmentation is for images; this dataset holds sequences")
        require(not sequence or not self.features, "dataset.features", _plain(self.features),
                "named features have fixed shapes; a sequence dataset has one input of input_shape")

    def _check_rest(self) -> None:
        require(self.num_classes >= 1, "dataset.num_classes", self.num_classes,
                "must be >= 1 (classes, or labels of a multilabel task)")
        require(0 < self.val_fraction < 0.5, "dataset.val_fraction", self.val_fraction, "must be in (0, 0.5)")
        require(self.test_fraction is None or 0 < self.test_fraction < 0.5, "dataset.test_fraction",
                self.test_fraction, "must be in (0, 0.5), or null for an official test split")
        require(self.scale > 0, "dataset.scale", self.scale, "must be > 0")
        require_choice("dataset.cache", self.cache, CACHE_MODES)
        require(self.shuffle_window >= 1, "dataset.shuffle_window", self.shuffle_window, "must be >= 1")
        require_choice("dataset.task", self.task, TASKS)
        require(self.num_outputs >= 1, "dataset.num_outputs", self.num_outputs, "must be >= 1")
        require(self.task != "classification" or self.num_classes >= 2, "dataset.num_classes", self.num_classes,
                "must be >= 2")
        require_choice("dataset.normalize", self.normalize, NORMALIZATIONS)


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # used by sgd and rmsprop
    clipnorm: float | None = None
    schedule: str = "constant"  # cosine decays lr to lr * min_lr_ratio over trainer.epochs; step: see milestones
    warmup_epochs: int = 0
    min_lr_ratio: float = 0.0
    milestones: list[int] = field(default_factory=list)  # step: epochs (from 1) at which lr is multiplied by gamma
    gamma: float = 0.1

    def __post_init__(self) -> None:
        require_choice("optimizer.name", self.name, OPTIMIZERS)
        require(math.isfinite(self.lr) and self.lr > 0, "optimizer.lr", self.lr, "must be > 0")
        require(self.weight_decay >= 0, "optimizer.weight_decay", self.weight_decay, "must be >= 0")
        require(0 <= self.momentum < 1, "optimizer.momentum", self.momentum, "must be in [0, 1)")
        require(self.clipnorm is None or self.clipnorm > 0, "optimizer.clipnorm", self.clipnorm,
                "must be > 0 or null")
        require_choice("optimizer.schedule", self.schedule, SCHEDULES)
        require(self.warmup_epochs >= 0, "optimizer.warmup_epochs", self.warmup_epochs, "must be >= 0")
        require(0 <= self.min_lr_ratio <= 1, "optimizer.min_lr_ratio", self.min_lr_ratio,
                "must be in [0, 1]")
        require(all(m >= 1 for m in self.milestones) and list(self.milestones) == sorted(set(self.milestones)),
                "optimizer.milestones", list(self.milestones), "epochs >= 1 in increasing order, e.g. [82, 123]")
        require(self.schedule != "step" or bool(self.milestones), "optimizer.milestones", list(self.milestones),
                "optimizer.schedule=step needs at least one epoch, e.g. optimizer.milestones=[82,123]")
        require(0 < self.gamma <= 1, "optimizer.gamma", self.gamma, "must be in (0, 1]")


@dataclass
class TrainerConfig:
    epochs: int = 30
    batch_size: int = 32
    keep_checkpoints: int | None = 3  # newest epoch checkpoints kept besides `best`; null keeps all
    monitor: str = "val_loss"  # picks the `best` checkpoint; a name with "loss" is minimised
    early_stopping_patience: int | None = None
    deterministic: bool = True  # bit-identical reruns on one machine, at some speed cost (README: "Speed")
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16 (Keras mixed-precision policy)
    jit_compile: Any = "auto"  # auto (Keras decides: XLA on GPUs) | true | false
    steps_per_execution: int = 1  # training steps run per call into TensorFlow
    distribute: str = "none"  # none | mirrored (tf.distribute.MirroredStrategy over `devices`)
    devices: list[str] | None = None  # mirrored: e.g. [/gpu:0, /gpu:1]; null: every GPU
    gpu_memory_growth: bool = True  # allocate GPU memory as needed (the seed article's allow_growth)
    threads: int | None = None  # CPU threads for TensorFlow's ops; null: every core (sweeps share them out)
    limit_batches: int | None = None  # debug: at most this many batches of each split per epoch
    overfit_batches: int | None = None  # debug: train on these first batches only, the same ones every epoch
    profile_steps: list[int] | None = None  # debug: [first, last] training step traced by TensorFlow's profiler
    check_numerics: bool = False  # debug: stop at the first NaN or Inf a TensorFlow op produces, naming the op

    def __post_init__(self) -> None:
        require(self.epochs >= 1, "trainer.epochs", self.epochs, "must be >= 1")
        for key in ("limit_batches", "overfit_batches"):
            value = getattr(self, key)
            require(value is None or value >= 1, f"trainer.{key}", value, "must be >= 1, or null")
        require(self.profile_steps is None or (len(self.profile_steps) == 2 and 1 <= self.profile_steps[0]
                                               <= self.profile_steps[1]), "trainer.profile_steps",
                self.profile_steps, "[first, last] steps with 1 <= first <= last, or null")
        require(self.threads is None or self.threads >= 1, "trainer.threads", self.threads,
                "must be >= 1, or null for every core")
        require(self.batch_size >= 1, "trainer.batch_size", self.batch_size, "must be >= 1")
        require(self.keep_checkpoints is None or self.keep_checkpoints >= 1, "trainer.keep_checkpoints",
                self.keep_checkpoints, "must be >= 1, or null to keep every epoch")
        require(self.early_stopping_patience is None or self.early_stopping_patience >= 1,
                "trainer.early_stopping_patience", self.early_stopping_patience, "must be >= 1 or null")
        require_choice("trainer.precision", self.precision, PRECISIONS)
        require(self.jit_compile in ("auto", True, False), "trainer.jit_compile", self.jit_compile,
                "must be one of auto, true, false")
        require(self.steps_per_execution >= 1, "trainer.steps_per_execution", self.steps_per_execution,
                "must be >= 1")
        require_choice("trainer.distribute", self.distribute, DISTRIBUTIONS)
        # Keras 3 fails inside its multi-step loop under a MirroredStrategy ("You must feed a value for
        # placeholder tensor"; keras-team/keras#19246, open): refused here rather than as a traceback
        require(self.steps_per_execution == 1 or self.distribute == "none", "trainer.steps_per_execution",
                self.steps_per_execution, "must be 1 with trainer.distribute=mirrored (Keras 3 cannot run several "
                "steps per call under a MirroredStrategy: keras-team/keras#19246)")
        require(self.devices is None or (len(self.devices) >= 1 and all(
            DEVICE_NAME.match(d) for d in self.devices)), "trainer.devices", self.devices,
            "a non-empty list of device names such as /gpu:0 or /cpu:1, or null for every GPU")


@dataclass
class StageConfig:
    name: str = "train"
    threshold: float = 0.5  # infer, multilabel: a label is predicted at or above this probability

    def __post_init__(self) -> None:
        require_choice("stage.name", self.name, STAGES)
        require(0 < self.threshold < 1, "stage.threshold", self.threshold, "must be in (0, 1)")


@dataclass
class TrialConfig:
    """Set by the Optuna sweeper on each job, so that training reports to its own trial."""

    number: int | None = None
    study_name: str | None = None
    storage: str | None = None
    callback: str | None = None  # `hpsearch.<module>.<function>(cfg)` returning the trial's Keras callback

    def __post_init__(self) -> None:
        require(self.callback is None or (self.callback.startswith("hpsearch.") and self.callback.count(".") == 2
                                          and self.callback.replace(".", "").replace("_", "").isalnum()),
                "trial.callback", self.callback, "a function of the hpsearch package (module.function), set by "
                "the sweeper")


@dataclass
class RunConfig:
    """The root: one choice per config group plus what belongs to the run itself."""

    model: Any = None
    dataset: Any = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    stage: StageConfig = field(default_factory=StageConfig)
    seed: int | None = 42  # null draws a seed and records it in the run's config
    run: str | None = None  # an earlier run's folder, or `latest`: what evaluate/infer/export/resume act on
    checkpoint: str | None = None  # best, last or epoch_<n> of `run`
    input: Any = None  # stage=infer: a JSON list, a .npy/.json/.csv file, or - for stdin
    trial: TrialConfig = field(default_factory=TrialConfig)
    best: bool = False  # apply conf/best_params/<model>_<dataset>.yaml over the defaults (the command line still wins)
    optimized_metric: Any = None  # what main() returns to a sweeper, a list for several objectives; null: the task's
    data_dir: str = "data"
    results_dir: str = "results"
    experiment: str | None = None  # the conf/experiment/ bundle this run was started from (set by it)
    applied_best: Any = None  # what best=true applied ({key: value}), recorded so a replay never re-reads conf/
    logger: Any = None  # {name: settings} of the loggers chosen with logger=: tensorboard, csv, mlflow, wandb

    def __post_init__(self) -> None:
        require(self.seed is None or 0 <= self.seed < 2**32, "seed", self.seed,
                "must be in [0, 2**32) or null to draw one")
        metrics = self.optimized_metric
        require(metrics is None or isinstance(metrics, str) or (
            OmegaConf.is_list(metrics) or isinstance(metrics, list)) and len(metrics) > 0,
            "optimized_metric", metrics, "a metric name, a non-empty list of them, or null for the task's main one")
        for key in ("data_dir", "results_dir"):
            require(bool(str(getattr(self, key)).strip()), key, getattr(self, key),
                    "must name a folder (an empty path would write into the current folder)")
        loggers = _plain(self.logger) or {}
        require(isinstance(loggers, dict) and set(loggers) <= set(LOGGERS), "logger", loggers,
                f"choose among {', '.join(LOGGERS)} (logger=[tensorboard,mlflow] for several)")
        for name, settings in loggers.items():
            settings = settings or {}
            require(isinstance(settings, dict), f"logger.{name}", settings, "must be a mapping of settings")
            for key in settings:
                require(key in LOGGERS[name], f"logger.{name}.{key}", settings[key],
                        f"unknown setting; logger.{name} takes " + (", ".join(LOGGERS[name]) or "none"))
        wandb = loggers.get("wandb") or {}
        require(wandb.get("mode") is None or wandb["mode"] in WANDB_MODES, "logger.wandb.mode", wandb.get("mode"),
                f"choose among {', '.join(WANDB_MODES)}, or null (online with an API key, else offline)")
        tags = wandb.get("tags") or []
        require(isinstance(tags, list) and all(isinstance(tag, str) for tag in tags), "logger.wandb.tags", tags,
                "must be a list of words, e.g. [baseline,digits]")
        require(self.checkpoint is None or self.run is not None, "checkpoint", self.checkpoint,
                "names a checkpoint of an earlier run: add run=<run folder> or run=latest")


def optimized_metrics(optimized_metric: Any, task: str = "classification", targets: Any = None) -> list[str]:
    """`optimized_metric` as a list: one name, several for a multi-objective search, or (null) the
    task's main metric on the validation split (its loss, for a task without labels; the first named
    target's main metric, `val_digit_accuracy`, for several targets)."""
    if optimized_metric is None:
        tasks = target_tasks({"targets": targets}) if targets else {}
        if tasks:
            first, first_task = next(iter(tasks.items()))
            return [f"val_{first}_{TASK_METRICS[first_task][1]}"]
        return [f"val_{TASK_METRICS[task][1 if len(TASK_METRICS[task]) > 1 else 0]}"]
    return [optimized_metric] if isinstance(optimized_metric, str) else list(optimized_metric)


def register_model_metrics(targets: list[str], metrics: dict[str, str], where: str,
                           tasks: tuple[str, ...] = TASKS) -> None:
    """Record what a model class declares it reports (`{name: "min" | "max"}`) and the tasks it trains on
    under each `_target_` that names it; a declaration out of shape stops the import with one line."""
    if not tasks or not set(tasks) <= set(TASKS):
        raise ConfigError(f"{where}: tasks={tasks!r} is invalid: a tuple of {', '.join(TASKS)}")
    if not isinstance(metrics, dict) or not all(
            isinstance(name, str) and re.fullmatch(r"[A-Za-z_]\w*", name) and mode in METRIC_MODES
            for name, mode in metrics.items()):
        raise ConfigError(f"{where}: reported_metrics={metrics!r} is invalid: a mapping of metric names to "
                          "'min' or 'max', e.g. {'reconstruction_loss': 'min'}")
    for name in metrics:
        prefixed = name.split("_", 1)[0] in SPLIT_PREFIXES
        if prefixed:
            raise ConfigError(f"{where}: reported_metrics names {name!r}; declare metrics without a split prefix "
                              f"({', '.join(SPLIT_PREFIXES)}): training reports `{name.split('_', 1)[1]}` and "
                              f"`val_{name.split('_', 1)[1]}`")
    for target in targets:
        MODEL_METRICS[target] = dict(metrics)
        MODEL_TASKS[target] = tuple(tasks)


def model_metrics(cfg: DictConfig | None) -> dict[str, str]:
    """What the config's model class declares it reports (`{}` for an app without a model)."""
    if cfg is None or "model" not in cfg or not OmegaConf.is_dict(cfg.model) or "_target_" not in cfg.model:
        return {}
    return MODEL_METRICS.get(str(cfg.model._target_), {})


def _bare(metric: str) -> str:
    split, _, rest = metric.partition("_")
    return rest if split in SPLIT_PREFIXES and rest else metric


def minimized(metric: str, declared: dict[str, str] | None = None) -> bool:
    """Whether a lower value of `metric` is better: as the model declares it (`declared`, by name without
    the split prefix), else by its name: losses and errors are minimised, anything else maximised."""
    declared = declared if declared is not None else {}
    if _bare(metric) in declared:
        return declared[_bare(metric)] == "min"
    return metric.rsplit("_", 1)[-1] in ("loss", "mae", "rmse", "mse") or metric.endswith("loss")


def metric_mode(metric: str, declared: dict[str, str] | None = None) -> str:
    """'min' or 'max': how `trainer.monitor` picks the best epoch, early stopping waits, the sweeper optimises."""
    return "min" if minimized(metric, declared) else "max"


def all_declared_metrics() -> dict[str, str]:
    """Every registered model's declarations merged: for tables of runs of several models (`runs list --sort`)."""
    merged: dict[str, str] = {}
    for metrics in MODEL_METRICS.values():
        merged.update(metrics)
    return merged


def task_metric_names(dataset: Any) -> list[str]:
    """What the dataset's task reports: `loss` and its metrics; with several targets, the total `loss`, then
    each target's `<target>_loss` and `<target>_<metric>` (Keras' names for a model of named outputs)."""
    tasks = target_tasks(dataset)
    if not tasks:
        return list(TASK_METRICS[dataset.task])
    return ["loss", *(f"{name}_{metric}" for name, task in tasks.items() for metric in TASK_METRICS[task])]


def reported_metrics(cfg: DictConfig) -> list[str]:
    """The metric names a run of this config reports, without split prefix: the task's, then the model's."""
    names = task_metric_names(cfg.dataset)
    return [*names, *(name for name in model_metrics(cfg) if name not in names)]


def check_task_metrics(cfg: DictConfig) -> None:
    """`trainer.monitor` and `optimized_metric` must name metrics the dataset's task or the model produces."""
    task = cfg.dataset.task
    target = str(cfg.model._target_) if OmegaConf.is_dict(cfg.get("model")) and "_target_" in cfg.model else None
    tasks = MODEL_TASKS.get(target, TASKS)
    require(task in tasks, "dataset.task", task, f"model {target} trains on {', '.join(tasks)}: add "
            f"dataset.task={tasks[0]}" + (" (the labels are not used)" if tasks[0] == "unsupervised" else ""))
    names = reported_metrics(cfg)
    named = target_tasks(cfg.dataset)
    who = (f"dataset.targets {', '.join(named)}" if named else f"task {task}") + (
        f" and model {cfg.model._target_} report" if model_metrics(cfg) else " report" if named else " reports")
    monitored = [*(f"val_{name}" for name in names), *names]
    require(cfg.trainer.monitor in monitored, "trainer.monitor", cfg.trainer.monitor,
            f"{who} {', '.join(monitored)}")
    optimizable = [f"{split}_{name}" for split in SPLIT_PREFIXES for name in names]
    for metric in optimized_metrics(cfg.optimized_metric, task, cfg.dataset.get("targets")):
        require(metric in optimizable, "optimized_metric", metric, f"{who} {', '.join(optimizable)}")


FEATURE_DTYPES = ("string", "int64", "float32")
TOKENIZER_KINDS = ("words", "characters", "wordpiece")
TOKENIZER_KEYS = ("kind", "vocabulary_size", "lowercase", "strip_punctuation")
MAX_VOCABULARY = 1 << 20


def is_sequence(input_shape: Any) -> bool:
    """Whether examples of this input shape are sequences of any length (a null first size); named features
    (a dict of shapes) never are."""
    shape = _plain(input_shape)
    return isinstance(shape, (list, tuple)) and bool(shape) and shape[0] is None


def check_tokenizer(key: str, tokenizer: Any) -> None:
    """`dataset.tokenizer`: `{kind, vocabulary_size, lowercase, strip_punctuation}`."""
    require(isinstance(tokenizer, dict) and set(tokenizer) <= set(TOKENIZER_KEYS), key, tokenizer,
            f"a mapping of {', '.join(TOKENIZER_KEYS)}")
    require_choice(f"{key}.kind", tokenizer.get("kind"), TOKENIZER_KINDS)
    size = tokenizer.get("vocabulary_size", 20000)
    require(isinstance(size, int) and not isinstance(size, bool) and 2 < size <= MAX_VOCABULARY,
            f"{key}.vocabulary_size", size, f"tokens kept, padding and unknown included: in [3, {MAX_VOCABULARY}]")
    for flag in ("lowercase", "strip_punctuation"):
        require(isinstance(tokenizer.get(flag, True), bool), f"{key}.{flag}", tokenizer.get(flag), "true or false")


NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
FEATURE_KEYS = ("shape", "normalize", "scale")
TARGET_KEYS = ("task", "num_classes", "num_outputs", "loss_weight")
TARGET_TASKS = ("classification", "multilabel", "regression")


def check_feature(key: str, name: str, feature: Any) -> None:
    """One `dataset.features` entry: `{shape: [...], normalize: ..., scale: ...}`."""
    require(bool(NAME_PATTERN.match(str(name))), key, name, "a feature name of letters, digits and _")
    require(isinstance(feature, dict) and set(feature) <= set(FEATURE_KEYS) and "shape" in feature, key, feature,
            f"a mapping with shape (and optionally {', '.join(FEATURE_KEYS[1:])})")
    shape = feature["shape"]
    require(isinstance(shape, list) and bool(shape) and all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                                           for d in shape), f"{key}.shape", shape,
            "a non-empty list of positive sizes")
    if "normalize" in feature:
        require_choice(f"{key}.normalize", feature["normalize"], NORMALIZATIONS)
    if "scale" in feature:
        require(isinstance(feature["scale"], (int, float)) and feature["scale"] > 0, f"{key}.scale", feature["scale"],
                "must be > 0")


def check_target(key: str, name: str, target: Any) -> None:
    """One `dataset.targets` entry: `{task: ..., num_classes: n | num_outputs: n, loss_weight: w}`."""
    require(bool(NAME_PATTERN.match(str(name))), key, name, "a target name of letters, digits and _")
    require(isinstance(target, dict) and set(target) <= set(TARGET_KEYS) and target.get("task") in TARGET_TASKS,
            key, target, f"a mapping with task: one of {', '.join(TARGET_TASKS)} (and {', '.join(TARGET_KEYS[1:])})")
    classes = target.get("num_classes", 2)
    require(target["task"] == "regression" or isinstance(classes, int) and classes >= (
        2 if target["task"] == "classification" else 1), f"{key}.num_classes", classes,
        "must be >= 2 for classification, >= 1 labels for multilabel")
    outputs = target.get("num_outputs", 1)
    require(isinstance(outputs, int) and outputs >= 1, f"{key}.num_outputs", outputs, "must be >= 1")
    weight = target.get("loss_weight", 1.0)
    require(isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight >= 0, f"{key}.loss_weight",
            weight, "must be >= 0")


def target_tasks(dataset: Any) -> dict[str, str]:
    """`{target: task}` of a dataset with several named targets; {} for one output of `dataset.task`."""
    return {name: str(target["task"]) for name, target in (_plain(dataset.get("targets")) or {}).items()}


def check_augmentation(key: str, transform: Any) -> None:
    """One `dataset.augment` entry: `{name: <transform>, <parameter>: <value>, ...}` with values in range."""
    require(isinstance(transform, dict) and transform.get("name") in AUGMENTATIONS, key, transform,
            f"a mapping with name: one of {', '.join(AUGMENTATIONS)} (and its parameters)")
    name = transform["name"]
    for parameter, value in transform.items():
        if parameter == "name":
            continue
        require(parameter in AUGMENTATIONS[name], f"{key}.{parameter}", value,
                f"{name} takes {', '.join(AUGMENTATIONS[name])}")
        if parameter == "mode":
            require_choice(f"{key}.mode", value, FLIP_MODES)
        elif parameter == "padding":
            require(isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 64,
                    f"{key}.padding", value, "pixels in [0, 64]")
        else:
            limit = 0.5 if parameter == "factor" and name in ("translate", "rotate") else 1.0
            require(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= limit,
                    f"{key}.{parameter}", value, f"a fraction in [0, {limit}]")


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


GROUPS = ("model", "dataset", "optimizer", "trainer", "stage", "trial")
ROOT_KEYS = tuple(f.name for f in dataclasses.fields(RunConfig))


def _check_known_keys(node: DictConfig, prefix: str, allowed: list[str]) -> None:
    for key in node:
        require(key in allowed, f"{prefix}{key}", node[key],
                f"unknown key; allowed: {', '.join(k for k in allowed if not k.startswith('_'))}")


def validate_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value out of range or key outside its schema.

    Composition already checked types and keys against the schemas; this runs the range checks
    in each schema's `__post_init__` and catches keys added with `+key=value`, which Hydra lets
    through.
    """
    _check_known_keys(cfg, "", [*ROOT_KEYS, "hydra"])
    complete_dataset(cfg.dataset)
    missing = sorted(key for key in OmegaConf.missing_keys(cfg) if not key.startswith("hydra."))
    if missing:
        raise ConfigError(f"{missing[0]} has no value and needs one: add {missing[0]}=... to the command line")
    for group in GROUPS:
        node = cfg[group]
        schema = OmegaConf.get_type(node)
        require(dataclasses.is_dataclass(schema), group, OmegaConf.to_container(node),
                f"conf/{group}/*.yaml must name its schema first in its defaults list (see README)")
        _check_known_keys(node, f"{group}.", [f.name for f in dataclasses.fields(schema)])
        OmegaConf.to_object(node)  # runs the schema's __post_init__ range checks
    RunConfig(**{key: cfg[key] for key in ROOT_KEYS if key not in GROUPS})
    if cfg.run is None:  # a job on an earlier run takes that run's model and task (checked when its config is read)
        check_task_metrics(cfg)


def complete_dataset(node: DictConfig) -> None:
    """Let the dataset's source fill the keys its config leaves to it (see DATASET_COMPLETERS)."""
    if not isinstance(node, DictConfig) or "name" not in node:
        return
    completer = DATASET_COMPLETERS.get(node.get("source") or node.get("name"))
    if completer is not None:
        completer(node)


def register_schema(group: str, name: str, schema: type) -> None:
    """Put a model's or dataset's schema where its YAML file names it (`/schema/<group>/<name>@_here_`).

    The `models` and `data` registries call this as they import their members, so a new model or
    dataset registers itself by being dropped in; this module never imports them.
    """
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group=f"schema/{group}", name=name, node=schema)


def register_dataset_name(name: str) -> None:
    if name not in DATASET_NAMES:
        DATASET_NAMES.append(name)


def register_configs() -> None:
    """Put the root schema into Hydra's ConfigStore, where `conf/config.yaml` finds it.

    The root schema types the optimizer, trainer and stage groups; a model or dataset YAML names
    its own schema first in its defaults list, registered by `register_schema`.
    """
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="run_schema", node=RunConfig)
