"""Every model of the project: `from models import MLP, CNN`, or by name with `model_class("mlp")`.

A model is a module of this folder that defines a `BaseModel` subclass; its name is the module's
name, which is also the name of its `conf/model/<name>.yaml`. Dropping in the two files is all
it takes: this package finds the module, exports its class and pushes its config schema into
Hydra's ConfigStore. What a model *is* lives here; what drives it (stages, run folders) lives in
`runs/`. This room imports only `conf/`; importing it does not import TensorFlow.
"""

from __future__ import annotations

import importlib
import pkgutil

from omegaconf import DictConfig

from conf.errors import UserError
from conf.schema import register_model_metrics, register_schema
from models.base_model import BaseModel

MODELS: dict[str, type[BaseModel]] = {}


def register_model(name: str, cls: type[BaseModel]) -> None:
    """Make `cls` the model called `name`: buildable from its `_target_`, its schema in Hydra's
    ConfigStore as `schema/model/<name>`, its declared metrics known to the configuration checks.

    Every file of this folder is registered so; a test (or a package of models kept elsewhere) calls
    it for a class defined in another module.
    """
    MODELS[name] = cls
    register_schema("model", name, cls.Config)
    register_model_metrics([f"{cls.__module__}.{cls.__name__}", f"models.{cls.__name__}"], cls.reported_metrics,
                           f"{cls.__module__}.{cls.__name__}", cls.tasks)


for _module_info in pkgutil.iter_modules(__path__):
    if _module_info.ispkg or _module_info.name == "base_model":
        continue
    _module = importlib.import_module(f"{__name__}.{_module_info.name}")
    for _value in vars(_module).values():
        if isinstance(_value, type) and issubclass(_value, BaseModel) and _value.__module__ == _module.__name__:
            register_model(_module_info.name, _value)
            globals()[_value.__name__] = _value


def model_class(name: str) -> type[BaseModel]:
    """The registered model called `name` (its module name, e.g. "mlp")."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def registered_class(target: str) -> type[BaseModel]:
    """The registered model class a `_target_` names (`models.MLP` or `models.mlp.MLP`), else UserError.

    Only registered classes are ever built: a configuration may come from someone else's run
    folder, and must not be able to run arbitrary code through `_target_`.
    """
    by_target = {f"{cls.__module__}.{cls.__name__}": cls for cls in MODELS.values()}
    by_target.update({f"models.{cls.__name__}": cls for cls in MODELS.values()})
    if target not in by_target:
        raise UserError(f"model._target_={target!r} is not a registered model; allowed: "
                        f"{', '.join(sorted(by_target))}")
    return by_target[target]


def build_model(config: DictConfig, preprocessing=None) -> BaseModel:
    """Instantiate the registered model class that `config.model._target_` names (with the run's
    preprocessing record, whose target statistics a regression model needs)."""
    return registered_class(config.model._target_)(config, preprocessing)


__all__ = ["BaseModel", "MODELS", "build_model", "model_class", "register_model", "registered_class",
           *(cls.__name__ for cls in MODELS.values())]
