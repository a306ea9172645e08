"""Config composition and validation, in-process and without TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from conf.errors import ConfigError, one_line_error
from conf.schema import validate_config
from models.cnn import CNNConfig
from models.mlp import MLPConfig
from runs.output_dirs import unique_dir
from tests.conftest import PROJECT_ROOT, compose_config


def test_default_config_composes_typed_groups():
    cfg = compose_config()
    assert cfg.model._target_ == "models.MLP"
    assert list(cfg.model.hidden_units) == [256, 128]
    assert cfg.dataset.name == "digits" and list(cfg.dataset.input_shape) == [8, 8, 1]
    assert cfg.stage.name == "train"
    assert cfg.optimized_metric is None  # the task's main metric
    from conf.schema import optimized_metrics

    assert optimized_metrics(None, "classification") == ["val_accuracy"]
    assert optimized_metrics(None, "regression") == ["val_mae"] and optimized_metrics(None, "multilabel") == ["val_auc"]
    validate_config(cfg)


def test_overrides_from_the_issue_compose():
    cfg = compose_config("model=cnn", "trainer.epochs=5", "model.filters=32", "optimizer.lr=3e-4")
    assert cfg.model._target_ == "models.CNN" and cfg.model.filters == 32
    assert cfg.trainer.epochs == 5 and cfg.optimizer.lr == pytest.approx(3e-4)
    validate_config(cfg)


def test_model_schema_comes_from_the_model_file():
    from omegaconf import OmegaConf

    assert OmegaConf.get_type(compose_config().model) is MLPConfig
    assert OmegaConf.get_type(compose_config("model=cnn").model) is CNNConfig


@pytest.mark.parametrize(("override", "expected"), [
    ("model.hidden_units=abc", "model.hidden_units: "),
    ("model.hiden=3", "model.hiden: unknown key; allowed: hidden_units, dropout, activation"),
    ("seed=abc", "seed: Value 'abc'"),
    ("trainer.epochs=ten", "trainer.epochs: Value 'ten'"),
])
def test_type_and_key_errors_stop_composition_with_one_line(override, expected):
    with pytest.raises(ConfigCompositionException) as caught:
        compose_config(override)
    message = one_line_error(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


@pytest.mark.parametrize(("override", "expected"), [
    ("trainer.epochs=0", "trainer.epochs=0 is invalid: must be >= 1"),
    ("optimizer.lr=-1", "optimizer.lr=-1.0 is invalid: must be > 0"),
    ("trainer.batch_size=0", "trainer.batch_size=0 is invalid: must be >= 1"),
    ("model.dropout=1.5", "model.dropout=1.5 is invalid: must be in [0, 1)"),
    ("optimizer.name=adamx", "optimizer.name='adamx' is invalid: must be one of adam, adamw, sgd, rmsprop"),
    ("dataset.name=imagenet", "dataset.name='imagenet' is invalid: must be one of cifar10, diabetes, digit_features, digits, fashion_mnist"),
    ("+model.hiden=3", "model.hiden=3 is invalid: unknown key; allowed: hidden_units, dropout, activation"),
    ("+extra=1", "extra=1 is invalid: unknown key"),
    ("trainer.keep_checkpoints=0", "trainer.keep_checkpoints=0 is invalid: must be >= 1, or null"),
    ("optimized_metric=f1", "optimized_metric='f1' is invalid: task classification reports train_loss, train_accuracy, val_loss"),
    ("optimized_metric=5", "optimized_metric=5 is invalid: a metric name, a non-empty list of them, or null"),
    ("optimized_metric=[]", "optimized_metric=[] is invalid: a metric name, a non-empty list of them, or null"),
])
def test_values_out_of_range_raise_config_error(override, expected):
    with pytest.raises(ConfigError) as caught:
        validate_config(compose_config(override))
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("override", "expected"), [
    ("model=unet", "model=unet: no such option; available: cnn, mlp, resnet, rnn, transformer, vae"),
    ("dataset=imagenet", "dataset=imagenet: no such option; available: cifar10, diabetes, digit_features, digits, fashion_mnist, "
                         "huggingface, image_folder, imdb, mnist, multilabel, synthetic, text_file, text_folder, tfds, "
                         "topics, waves, wine"),
    ("stage=dance", "stage=dance: no such option; available: evaluate, export, infer, train"),
])
def test_unknown_group_options_list_the_available_ones(override, expected):
    with pytest.raises(MissingConfigException) as caught:
        compose_config(override)
    assert one_line_error(caught.value) == expected


def test_bugs_are_not_reported_as_user_errors():
    assert one_line_error(ZeroDivisionError("x")) is None


def test_null_seed_is_allowed():
    validate_config(compose_config("seed=null"))


def test_unique_dir_never_returns_an_existing_folder(tmp_path):
    first = unique_dir(str(tmp_path / "2026-01-01_00-00-00"))
    second = unique_dir(str(tmp_path / "2026-01-01_00-00-00"))
    third = unique_dir(str(tmp_path / "2026-01-01_00-00-00"))
    assert first != second != third
    assert second.endswith("_1") and third.endswith("_2")
    assert all(map(lambda p: (tmp_path / p).is_dir(), [first, second, third]))


def test_validation_does_not_import_tensorflow():
    code = (
        "import sys; from tests.conftest import compose_config; from conf.schema import validate_config; "
        "validate_config(compose_config('model=cnn')); import models; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
