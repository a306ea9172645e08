"""Models of the tests, written as researchers write theirs, registered as if they were files of `models/`.

`register()` adds each to the model registry and puts its config into Hydra's ConfigStore as the
option `model=<module name>` (what `conf/model/<name>.yaml` would be); the test server calls it before
it forks, so `python main.py model=guide_vae dataset.task=unsupervised` runs them like shipped models.
"""

from __future__ import annotations

import importlib

NAMES = ("guide_vae", "gan", "broken", "two_branch")


def register() -> None:
    from hydra.core.config_store import ConfigStore

    from models import BaseModel, register_model

    for name in NAMES:
        module = importlib.import_module(f"{__name__}.{name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                register_model(name, value)
                ConfigStore.instance().store(group="model", name=name, node=value.Config)
