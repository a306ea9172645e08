"""The evaluate stage: a trained run's checkpoint (best by default, any kept epoch) on the val and test splits.

    python main.py stage=evaluate run=<run> [checkpoint=epoch_3]

Prints the metrics as JSON and writes them to `<run>/evaluate/<time>/metrics.json`, next to
earlier evaluations, never over them.
"""

from __future__ import annotations

from omegaconf import DictConfig

from data.pipeline import evaluation_batches, split_source
from data.prepare import prepare_dataset, read_manifest
from runs.stages.train import flat_metrics
from runs.stages.trained_run import load_trained_model, report, trained_run


def evaluate(cfg: DictConfig) -> dict[str, float]:
    run = trained_run(cfg)
    config = run.config
    folder = prepare_dataset(config.dataset, cfg.data_dir)
    model = load_trained_model(config, run.path, run.preprocessing)
    manifest = read_manifest(folder)
    sources = {split: split_source(folder, manifest, split, config.dataset, run.preprocessing)
               for split in ("val", "test")}
    results = {split: model.evaluate(evaluation_batches(source, config.trainer.batch_size))
               for split, source in sources.items()}
    report("metrics.json", {**run.header(), **results})
    return flat_metrics(results)
