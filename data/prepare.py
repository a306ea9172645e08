"""Prepare a dataset once: split it (deterministically) and write `data/<name>/{train,val,test}/`.

    python -m data.prepare digits          # or: synthetic, several names, --list, --force

Each split folder holds `x.npy` and `y.npy`; `manifest.json` beside them records counts, shapes,
checksums and the parameters the folder was prepared with. The whole folder is written under a
temporary name and renamed into place, so a folder that exists is complete. Training calls
`prepare_dataset` itself, which does nothing when the folder is already there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from conf.errors import ConfigError, UserError
from data.sources import SOURCES

SPLITS = ("train", "val", "test")
CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "dataset"
MANIFEST = "manifest.json"


def preparation_params(cfg: DictConfig) -> dict:
    """Every parameter that changes the prepared files.

    `scale` and the exact `input_shape` only change how the pipeline reads the files, so a
    prepared folder serves `[8, 8, 1]` and `[64]` alike; only the number of values counts.
    """
    params = OmegaConf.to_container(cfg, resolve=True)
    del params["scale"], params["input_shape"]
    params["values_per_example"] = int(np.prod(cfg.input_shape))
    return params


def prepared_dir(cfg: DictConfig, data_dir: str | Path) -> Path:
    """`data/<name>`; a generated dataset's folder also carries a hash of its parameters,
    so that every size and shape of `synthetic` gets a folder of its own."""
    if cfg.name != "synthetic":
        return Path(data_dir) / cfg.name
    digest = hashlib.sha256(json.dumps(preparation_params(cfg), sort_keys=True).encode()).hexdigest()
    return Path(data_dir) / f"{cfg.name}-{digest[:12]}"


def split_indices(y: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Stratified split: each class is shuffled with `seed` and cut into test, val and train parts."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = max(1, round(len(members) * test_fraction))
        n_val = max(1, round(len(members) * val_fraction))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {split: np.sort(np.concatenate(chunks)) for split, chunks in parts.items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_input_shape(cfg: DictConfig, stored_shape: list[int]) -> None:
    values = int(np.prod(stored_shape))
    if values != int(np.prod(cfg.input_shape)):
        raise ConfigError(f"dataset.input_shape={list(cfg.input_shape)} is invalid: {cfg.name} examples "
                          f"have {values} values, e.g. {list(stored_shape)} or [{values}]")


def _check_prepared(folder: Path, cfg: DictConfig) -> None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest["stored_shape"], manifest["params"]  # noqa: B018 -- both must be there
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{folder} has no readable {MANIFEST}: it was not written (or was edited) after "
                        f"data.prepare; run `python -m data.prepare {cfg.name} --force`") from None
    _check_input_shape(cfg, manifest["stored_shape"])
    recorded = manifest["params"]
    wanted = preparation_params(cfg)
    changed = [f"{key}={wanted.get(key)!r} (prepared: {recorded.get(key)!r})"
               for key in sorted(set(recorded) | set(wanted)) if recorded.get(key) != wanted.get(key)]
    if changed:
        raise UserError(f"{folder} was prepared differently from the dataset config: {', '.join(changed)}; "
                        f"run `python -m data.prepare {cfg.name} --force` to prepare it again")


def prepare_dataset(cfg: DictConfig, data_dir: str | Path, force: bool = False) -> Path:
    """Write the dataset's split folders unless they exist already; returns the dataset folder."""
    if cfg.name not in SOURCES:
        raise ConfigError(f"dataset.name={cfg.name!r} is invalid: must be one of {', '.join(SOURCES)}")
    folder = prepared_dir(cfg, data_dir)
    if folder.exists() and not force:
        _check_prepared(folder, cfg)
        return folder
    x, y = SOURCES[cfg.name](cfg)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _check_input_shape(cfg, list(x.shape[1:]))
        manifest = {"name": cfg.name, "params": preparation_params(cfg), "stored_shape": list(x.shape[1:]),
                    "num_classes": int(cfg.num_classes), "splits": {}}
        for split, indices in split_indices(y, cfg.val_fraction, cfg.test_fraction, cfg.split_seed).items():
            (staging / split).mkdir()
            np.save(staging / split / "x.npy", x[indices])
            np.save(staging / split / "y.npy", y[indices])
            manifest["splits"][split] = {
                "count": int(len(indices)),
                "sha256": {f: _sha256(staging / split / f) for f in ("x.npy", "y.npy")},
            }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if force and folder.exists():
            shutil.rmtree(folder)
        try:
            staging.rename(folder)
        except OSError:  # another process prepared it first: theirs is as good as ours
            if not (folder / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_split(folder: Path, split: str, input_shape: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """A split's examples reshaped to `input_shape`, and their labels."""
    x, y = np.load(folder / split / "x.npy"), np.load(folder / split / "y.npy")
    return x.reshape(len(x), *input_shape), y


def dataset_config(name: str, overrides: tuple[str, ...] = ()) -> DictConfig:
    """The validated config of `conf/dataset/<name>.yaml` plus `dataset.*` overrides, as a run sees it."""
    path = CONF_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in CONF_DIR.glob("*.yaml"))
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(known)}")
    from hydra import compose, initialize_config_dir

    from conf.schema import register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR.parent), version_base="1.3"):
        cfg = compose("config", overrides=[f"dataset={name}", *overrides])
    OmegaConf.to_object(cfg.dataset)
    return cfg.dataset


def _folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="datasets to prepare (names of conf/dataset/*.yaml)")
    parser.add_argument("--list", action="store_true", help="list every dataset and whether it is prepared")
    parser.add_argument("--force", action="store_true", help="prepare again even if the folder exists")
    parser.add_argument("--data-dir", default="data", help="where prepared datasets live (default: data)")
    args = parser.parse_args(argv)
    if not args.names and not args.list:
        parser.error("name a dataset to prepare, or pass --list")
    try:
        if args.list:
            for path in sorted(CONF_DIR.glob("*.yaml")):
                folder = prepared_dir(dataset_config(path.stem), args.data_dir)
                status = f"prepared, {_folder_size(folder) / 1e6:.1f} MB" if folder.exists() else "not prepared"
                print(f"{path.stem:12s} {folder}  {status}")
        for name in args.names:
            cfg = dataset_config(name)
            existed = prepared_dir(cfg, args.data_dir).exists() and not args.force
            folder = prepare_dataset(cfg, args.data_dir, force=args.force)
            print(f"{name}: {'already prepared in' if existed else 'prepared'} {folder}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
