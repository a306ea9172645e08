"""Shared helpers: compose configs in-process, run `main.py` as a subprocess inside tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import data.sources  # noqa: F401 -- registers the dataset schemas, as main.py does
import models  # noqa: F401 -- registers the model schemas
from conf.schema import register_configs
from runs.output_dirs import register_resolvers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MAIN = PROJECT_ROOT / "main.py"

register_configs()
register_resolvers()


def compose_config(*overrides: str) -> DictConfig:
    """The config `python main.py <overrides>` would run with, composed in-process (no TensorFlow)."""
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def run_main(workdir: Path, *args: str, timeout: float = 240, main: Path = MAIN) -> subprocess.CompletedProcess:
    """Run `python main.py args` with workdir as the current folder, so results/ and data/ land there."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(main), *args], cwd=workdir, capture_output=True, text=True,
                          timeout=timeout, env=env)


def run_folders(workdir: Path, model: str = "mlp", dataset: str = "digits") -> list[Path]:
    base = workdir / "results" / model / dataset
    return sorted(base.iterdir()) if base.is_dir() else []


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory) -> Path:
    """A data folder with digits prepared once for the whole session."""
    from data.prepare import prepare_dataset

    data_dir = tmp_path_factory.mktemp("data")
    prepare_dataset(compose_config().dataset, data_dir)
    return data_dir
