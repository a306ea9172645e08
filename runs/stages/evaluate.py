"""The evaluate stage: a trained run's checkpoint (best by default, any kept epoch) on the val and test splits.

    python main.py stage=evaluate run=<run> [checkpoint=epoch_3]

Prints the metrics as JSON and writes them to `<run>/evaluate/<time>/metrics.json`, next to
earlier evaluations, never over them.
"""

from __future__ import annotations

from omegaconf import DictConfig

from data.pipeline import evaluation_batches
from data.prepare import load_split, prepare_dataset
from runs.stages.train import flat_metrics
from runs.stages.trained_run import load_trained_model, report, trained_run


def evaluate(cfg: DictConfig) -> dict[str, float]:
    run = trained_run(cfg)
    config = run.config
    folder = prepare_dataset(config.dataset, cfg.data_dir)
    model = load_trained_model(config, run.path)
    batch_size, scale = config.trainer.batch_size, config.dataset.scale
    results = {split: model.evaluate(evaluation_batches(*load_split(folder, split, config.dataset.input_shape),
                                                        batch_size, scale))
               for split in ("val", "test")}
    report("metrics.json", {**run.header(), **results})
    return flat_metrics(results)
