"""The training stage: seed, prepare the data, build the model, fit, evaluate the best checkpoint, record it all."""

from __future__ import annotations

import json
import logging
import time

from omegaconf import DictConfig

from data.pipeline import evaluation_batches, steps_per_epoch, training_batches
from data.prepare import SPLITS, load_split, prepare_dataset
from models import build_model
from models.base_model import BaseModel
from models.atomic_files import write_json_atomically, write_text_atomically
from models.stages.run_folder import start_run

log = logging.getLogger("train")


def train(cfg: DictConfig) -> dict[str, float]:
    """Train `cfg.model` on `cfg.dataset`; returns flat metrics such as `val_accuracy`, `test_loss`."""
    started = time.perf_counter()
    run_dir = start_run(cfg)
    BaseModel.seed_everything(cfg.seed, cfg.trainer.deterministic)
    folder = prepare_dataset(cfg.dataset, cfg.data_dir)
    splits = {split: load_split(folder, split, cfg.dataset.input_shape) for split in SPLITS}
    batch_size, scale = cfg.trainer.batch_size, cfg.dataset.scale

    model = build_model(cfg)
    write_text_atomically(run_dir / "model_summary.txt", model.summary() + "\n")
    train_x, train_y = splits["train"]
    fit_started = time.perf_counter()
    history = model.fit(
        training_batches(train_x, train_y, batch_size, cfg.seed, 0, cfg.trainer.epochs, scale),
        evaluation_batches(*splits["val"], batch_size, scale),
        run_dir, steps_per_epoch=steps_per_epoch(len(train_y), batch_size))
    fit_time = time.perf_counter() - fit_started

    model.load_checkpoint(run_dir / "checkpoints" / "best.keras")
    results = {split: model.evaluate(evaluation_batches(x, y, batch_size, scale)) for split, (x, y) in splits.items()}
    metrics = {
        **results,
        "epochs_run": len(history["loss"]),
        "best_epoch": json.loads((run_dir / "checkpoints" / "state.json").read_text())["best_epoch"],
        "seed": cfg.seed,
        "fit_time_s": round(fit_time, 3),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    write_json_atomically(run_dir / "metrics.json", metrics)
    flat = {f"{split}_{name}": value for split, values in results.items() for name, value in values.items()}
    log.info("best epoch %d: %s", metrics["best_epoch"],
             " ".join(f"{name}={value:.4f}" for name, value in sorted(flat.items())))
    return flat
