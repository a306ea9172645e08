"""The evaluate stage: a trained run's checkpoint (best by default, any kept epoch on request) on the test split.

    python main.py stage=evaluate run=<run> [checkpoint=epoch_3]

Prints the metrics as JSON and writes them to `<run>/evaluate/<time>/metrics.json`, next to
earlier evaluations, never over them.
"""

from __future__ import annotations

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from conf.run_folder import load_run_config, resolve_checkpoint, target_run
from data.pipeline import evaluation_batches
from data.prepare import load_split, prepare_dataset
from models.atomic_files import write_json_atomically
from models.stages.loading import load_trained_model
from models.stages.train import flat_metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    run_dir = target_run(cfg)
    config = load_run_config(run_dir)
    checkpoint = cfg.checkpoint or "best"
    path, epoch = resolve_checkpoint(run_dir, checkpoint)
    folder = prepare_dataset(config.dataset, cfg.data_dir)
    model = load_trained_model(config, path)
    batch_size, scale = config.trainer.batch_size, config.dataset.scale
    results = {split: model.evaluate(evaluation_batches(*load_split(folder, split, config.dataset.input_shape),
                                                        batch_size, scale))
               for split in ("val", "test")}
    report = {"run": str(run_dir), "checkpoint": checkpoint, "epoch": epoch, **results}
    write_json_atomically(Path(HydraConfig.get().runtime.output_dir) / "metrics.json", report)
    print(json.dumps(report), flush=True)
    return flat_metrics(results)
