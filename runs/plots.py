"""Pictures a finished run leaves in its folder: `learning_curves.png` and, for classification,
`confusion_matrix.png` on the test split. matplotlib draws them off-screen (Agg), each written
atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runs.atomic_files import replace_atomically
from runs.epoch_records import read_history


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path, tight: bool = False) -> None:
    """Margins are set by hand where they are known: `bbox_inches="tight"` draws the figure twice,
    a third of a second per picture, paid by every finished run (and every test that trains)."""
    replace_atomically(path, lambda temporary: figure.savefig(
        temporary, format="png", dpi=110, bbox_inches="tight" if tight else None), suffix=".png")


def learning_curves(run_dir: Path, metrics: list[str], best_epoch: int | None) -> Path | None:
    """Each of `metrics` (the loss and the task's or model's main metric) per epoch, train and validation,
    from history.csv, one panel each (those the history has); the best epoch marked."""
    rows = read_history(run_dir)
    if not rows:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) for row in rows]
    shown = [name for name in dict.fromkeys(metrics) if name in rows[0] or f"val_{name}" in rows[0]]
    if not shown:
        return None
    figure, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.8), squeeze=False)
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.92, wspace=0.2)
    for axis, name in zip(axes[0], shown, strict=True):
        for prefix, label in (("", "train"), ("val_", "validation")):
            if f"{prefix}{name}" in rows[0]:
                axis.plot(epochs, [float(row[f"{prefix}{name}"]) for row in rows], marker=".", label=label)
        if best_epoch:
            axis.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    path = run_dir / "learning_curves.png"
    _save(figure, path)
    plt.close(figure)
    return path


def confusion_matrix(run_dir: Path, labels: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> Path:
    """Counts of (true class, predicted class) on the test split, written in the cells. Empty cells stay
    blank: the errors stand out, and the zeros' text was a third of the drawing time."""
    plt = _pyplot()
    classes = len(class_names)
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    size = max(4.0, 0.45 * classes + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(counts, cmap="Blues")
    axis.set_xticks(range(classes), class_names, rotation=90 if classes > 10 else 0)
    axis.set_yticks(range(classes), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    accuracy = np.trace(counts) / max(1, counts.sum())
    axis.set_title(f"test split: {counts.sum()} examples, accuracy {accuracy:.4f}")
    if classes <= 30:
        for (row, column), count in np.ndenumerate(counts):
            if not count:
                continue
            axis.text(column, row, str(count), ha="center", va="center", fontsize=8,
                      color="white" if count > counts.max() / 2 else "black")
    path = run_dir / "confusion_matrix.png"
    _save(figure, path, tight=classes > 10 or max(map(len, class_names)) > 3)  # long or rotated names: measured
    plt.close(figure)
    return path
