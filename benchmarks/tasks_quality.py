"""How well the default configurations learn the small tasks, over several training seeds.

    python benchmarks/tasks_quality.py [--seeds 42 1 2 3 4] [--cnn-seeds ...] [--parts wine diabetes cnn]
                                       [--data-dir DIR] [--results-dir DIR]

Every run is a whole `python main.py ...` process; its test metrics are read from the `metrics.json`
of the run folder it made (`<results_dir>/<model>/<dataset>/<timestamp>/`). Three parts:

1. wine (classification): the MLP with the default `dataset.normalize=standardize` against
   `dataset.normalize=scale` (wine's scale is 1.0, so raw features from 0.1 to 1,680): test accuracy
   per seed, mean and min. Target: standardize >= 0.95.
2. diabetes (regression): the MLP's test MAE per seed against scikit-learn's
   `RidgeCV(alphas=np.logspace(-3, 3, 13))` on the same prepared split (features standardised with
   the training split's statistics), fitted (a) on train and (b) on train+val. Reports MLP MAE /
   RidgeCV MAE per seed and for the mean. Target: <= 1.05.
3. digits CNN (`model=cnn`) without and with `dataset.augment=[translate 0.1, rotate 0.05]`: test
   accuracy per seed, mean and min. Target: with augmentation >= 0.97 on every seed.

Datasets are prepared in --data-dir and runs written to --results-dir (default: a fresh temporary
folder), never in the project's own data/ and results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AUGMENT = "dataset.augment=[{name:translate,factor:0.1},{name:rotate,factor:0.05}]"
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def train(overrides: list[str], model: str, dataset: str, data_dir: Path, results_dir: Path) -> dict:
    """Run `python main.py <overrides>`; return the metrics.json of the run folder it made."""
    parent = results_dir / model / dataset
    before = {p.name for p in parent.iterdir()} if parent.is_dir() else set()
    command = [sys.executable, str(ROOT / "main.py"), *overrides, f"data_dir={data_dir}", f"results_dir={results_dir}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    new = sorted((p for p in parent.iterdir() if p.name not in before and (p / "metrics.json").is_file()),
                 key=lambda p: p.stat().st_mtime)
    if not new:
        raise SystemExit(f"no new run folder with metrics.json under {parent} after: {' '.join(command)}")
    metrics = json.loads((new[-1] / "metrics.json").read_text())
    print(f"  {time.perf_counter() - started:6.1f}s  {' '.join(overrides)}  -> test {metrics['test']}", flush=True)
    return metrics


def table(title: str, columns: list[str], rows: list[list], fmt: str = "{:.4f}") -> None:
    cells = [[str(r[0])] + [fmt.format(v) if isinstance(v, float) else str(v) for v in r[1:]] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in cells:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print(flush=True)


def accuracy_part(title: str, variants: dict[str, list[str]], model: str, dataset: str, seeds: list[int],
                  args: argparse.Namespace, target: tuple[str, float]) -> dict[str, list[float]]:
    """Test accuracy of each variant (a list of overrides) per seed; one table."""
    print(f"\n== {title}", flush=True)
    acc: dict[str, list[float]] = {name: [] for name in variants}
    for seed in seeds:
        for name, overrides in variants.items():
            metrics = train([*overrides, f"seed={seed}"], model, dataset, args.data_dir, args.results_dir)
            acc[name].append(float(metrics["test"]["accuracy"]))
    names = list(variants)
    rows = [[f"seed {s}", *(acc[n][i] for n in names)] for i, s in enumerate(seeds)]
    rows.append(["mean", *(statistics.mean(acc[n]) for n in names)])
    rows.append(["min", *(min(acc[n]) for n in names)])
    table(f"{title}: test accuracy", ["", *names], rows)
    variant, bound = target
    for how, value in (("mean", statistics.mean(acc[variant])), ("min", min(acc[variant]))):
        print(f"  target: {variant} test accuracy >= {bound}, {how} over seeds: {value:.4f} -> "
              f"{'MET' if value >= bound else 'MISSED'}", flush=True)
    return acc


def ridge_mae(data_dir: Path) -> dict[str, float]:
    """Test MAE of RidgeCV on diabetes' prepared split, fitted on train and on train+val."""
    from sklearn.linear_model import RidgeCV

    from data.prepare import load_split

    folder = data_dir / "diabetes"
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (load_split(folder, s) for s in ("train", "val", "test"))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def fit_mae(x: np.ndarray, y: np.ndarray) -> float:
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit((x - mean) / std, y.ravel())
        return float(np.mean(np.abs(model.predict((x_test - mean) / std) - y_test.ravel())))

    return {"train": fit_mae(x_train, y_train),
            "train+val": fit_mae(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))}


def diabetes_part(seeds: list[int], args: argparse.Namespace) -> None:
    print("\n== diabetes (regression): MLP vs RidgeCV", flush=True)
    mae = [float(train(["dataset=diabetes", f"seed={s}"], "mlp", "diabetes", args.data_dir, args.results_dir)
                 ["test"]["mae"]) for s in seeds]
    sys.path.insert(0, str(ROOT))
    ridge = ridge_mae(args.data_dir)
    rows = [[f"seed {s}", m, m / ridge["train"], m / ridge["train+val"]] for s, m in zip(seeds, mae, strict=True)]
    mean = statistics.mean(mae)
    rows.append(["mean", mean, mean / ridge["train"], mean / ridge["train+val"]])
    rows.append(["min", min(mae), min(mae) / ridge["train"], min(mae) / ridge["train+val"]])
    rows.append(["max", max(mae), max(mae) / ridge["train"], max(mae) / ridge["train+val"]])
    table("diabetes: MLP test MAE and its ratio to RidgeCV's",
          ["", "MLP test MAE", "/ Ridge(train)", "/ Ridge(train+val)"], rows)
    print(f"  RidgeCV(alphas=logspace(-3, 3, 13)) test MAE: fitted on train {ridge['train']:.4f}, "
          f"on train+val {ridge['train+val']:.4f}")
    for fit in ("train", "train+val"):
        ratio = mean / ridge[fit]
        print(f"  target: mean MLP MAE / RidgeCV({fit}) MAE <= 1.05: {ratio:.4f} -> "
              f"{'MET' if ratio <= 1.05 else 'MISSED'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--cnn-seeds", type=int, nargs="+", help="seeds of the CNN part (default: --seeds)")
    parser.add_argument("--parts", nargs="+", choices=["wine", "diabetes", "cnn"], default=["wine", "diabetes", "cnn"])
    parser.add_argument("--data-dir", type=Path, help="prepared datasets (default: in --results-dir)")
    parser.add_argument("--results-dir", type=Path, help="run folders (default: a new temporary folder)")
    args = parser.parse_args()
    args.results_dir = (args.results_dir or Path(tempfile.mkdtemp(prefix="tasks-quality-"))).resolve()
    args.data_dir = (args.data_dir or args.results_dir / "data").resolve()
    print(f"seeds {args.seeds}; data in {args.data_dir}, runs in {args.results_dir}", flush=True)
    started = time.perf_counter()
    if "wine" in args.parts:
        accuracy_part("wine (classification), MLP",
                      {"standardize": ["dataset=wine"], "scale (raw)": ["dataset=wine", "dataset.normalize=scale"]},
                      "mlp", "wine", args.seeds, args, ("standardize", 0.95))
    if "diabetes" in args.parts:
        diabetes_part(args.seeds, args)
    if "cnn" in args.parts:
        accuracy_part("digits CNN, without and with augmentation",
                      {"no augment": ["model=cnn"], "translate+rotate": ["model=cnn", AUGMENT]},
                      "cnn", "digits", args.cnn_seeds or args.seeds, args, ("translate+rotate", 0.97))
    print(f"total wall time {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
