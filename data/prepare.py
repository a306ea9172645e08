"""Prepare a dataset once: download it if needed, split it deterministically, write `data/<name>/{train,val,test}/`.

    python -m data.prepare mnist           # or digits, synthetic, fashion_mnist, cifar10; several names
    python -m data.prepare --list          # every dataset, whether it is prepared, its size on disk

Each split folder holds `x.npy` and `y.npy`; `manifest.json` beside them records counts, shapes,
class names, checksums, the source files and the parameters the folder was prepared with. The
whole folder is written under a temporary name and renamed into place, so a folder that exists is
complete. Training calls `prepare_dataset` itself: it does nothing when the folder is there, and
prepares it when that needs no download.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from conf.errors import ConfigError, UserError
from data.download import sha256_of as _sha256
from data.sources import SOURCES, Arrays

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


def split_indices(y: np.ndarray, fractions: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    """Stratified split: each class is shuffled with `seed`, cut into the parts `fractions` names
    (in order), and what remains is `train`."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in [*fractions, "train"]}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        start = 0
        for split, fraction in fractions.items():
            count = max(1, round(len(members) * fraction))
            parts[split].append(members[start:start + count])
            start += count
        parts["train"].append(members[start:])
    return {split: np.sort(np.concatenate(chunks)) for split, chunks in parts.items()}


def make_splits(cfg: DictConfig, data: Arrays | dict[str, Arrays]) -> dict[str, Arrays]:
    """train/val/test arrays: an official test split is kept and val is drawn from train;
    otherwise all examples are split three ways."""
    if isinstance(data, dict):
        if cfg.test_fraction is not None:
            raise ConfigError(f"dataset.test_fraction={cfg.test_fraction} is invalid: {cfg.name} has an official "
                              "test split; set it to null")
        x, y = data["train"]
        parts = split_indices(y, {"val": cfg.val_fraction}, cfg.split_seed)
        return {"train": (x[parts["train"]], y[parts["train"]]), "val": (x[parts["val"]], y[parts["val"]]),
                "test": data["test"]}
    if cfg.test_fraction is None:
        raise ConfigError(f"dataset.test_fraction=null is invalid: {cfg.name} has no official test split; "
                          "give a fraction in (0, 0.5)")
    x, y = data
    parts = split_indices(y, {"test": cfg.test_fraction, "val": cfg.val_fraction}, cfg.split_seed)
    return {split: (x[index], y[index]) for split, index in parts.items()}


def raw_files(cfg: DictConfig, data_dir: str | Path, download: bool) -> dict[str, Path]:
    """The dataset's raw files in `<data_dir>/downloads/`, verified; downloaded first if `download`."""
    from data.download import download as fetch

    directory = Path(data_dir) / "downloads"
    source = SOURCES[cfg.name]
    missing = [remote.name for remote in source.files if not (directory / remote.name).exists()]
    if missing and not download:
        raise UserError(f"dataset {cfg.name} is not prepared and needs a download: run "
                        f"`python -m data.prepare {cfg.name}` (or place {', '.join(missing)} in {directory})")
    return {remote.name: fetch(remote, directory) for remote in source.files}




def _check_input_shape(cfg: DictConfig, stored_shape: list[int]) -> None:
    values = int(np.prod(stored_shape))
    if values != int(np.prod(cfg.input_shape)):
        raise ConfigError(f"dataset.input_shape={list(cfg.input_shape)} is invalid: {cfg.name} examples "
                          f"have {values} values, e.g. {list(stored_shape)} or [{values}]")


def _check_prepared(folder: Path, cfg: DictConfig) -> None:
    again = f"run `python -m data.prepare {cfg.name} --force`"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest["stored_shape"], manifest["params"]  # noqa: B018 -- both must be there
        files = {f"{split}/{name}": digest for split, entry in manifest["splits"].items()
                 for name, digest in entry["sha256"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"{folder} has no readable {MANIFEST}: it was not written (or was edited) after "
                        f"data.prepare; {again}") from None
    for name, digest in files.items():
        if not (folder / name).is_file() or _sha256(folder / name) != digest:
            raise UserError(f"{folder / name} is missing or was changed since data.prepare wrote it; {again}")
    _check_input_shape(cfg, manifest["stored_shape"])
    recorded = manifest["params"]
    wanted = preparation_params(cfg)
    changed = [f"{key}={wanted.get(key)!r} (prepared: {recorded.get(key)!r})"
               for key in sorted(set(recorded) | set(wanted)) if recorded.get(key) != wanted.get(key)]
    if changed:
        raise UserError(f"{folder} was prepared differently from the dataset config: {', '.join(changed)}; "
                        f"run `python -m data.prepare {cfg.name} --force` to prepare it again")


def prepare_dataset(cfg: DictConfig, data_dir: str | Path, force: bool = False, download: bool = False) -> Path:
    """Write the dataset's split folders unless they exist already; returns the dataset folder.

    A dataset whose raw files must be downloaded is only downloaded when `download` is set (the
    `python -m data.prepare` command); training prepares it itself only from files already here.
    """
    if cfg.name not in SOURCES:
        raise ConfigError(f"dataset.name={cfg.name!r} is invalid: must be one of {', '.join(SOURCES)}")
    folder = prepared_dir(cfg, data_dir)
    if folder.exists() and not force:
        _check_prepared(folder, cfg)
        return folder
    source = SOURCES[cfg.name]
    files = raw_files(cfg, data_dir, download)
    splits = make_splits(cfg, source.load(cfg, files))
    stored_shape = list(splits["train"][0].shape[1:])
    _check_input_shape(cfg, stored_shape)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        manifest = {"name": cfg.name, "params": preparation_params(cfg), "stored_shape": stored_shape,
                    "num_classes": int(cfg.num_classes), "class_names": list(source.class_names),
                    "source": [{"file": r.name, "sha256": r.sha256, "urls": list(r.urls)} for r in source.files],
                    "splits": {}}
        for split, (x, y) in splits.items():
            (staging / split).mkdir()
            np.save(staging / split / "x.npy", x)
            np.save(staging / split / "y.npy", y)
            manifest["splits"][split] = {
                "count": int(len(y)),
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
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise UserError(f"the disk is full while preparing {folder}; nothing was kept: free some space "
                            "and run the command again") from None
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
        # `~model`: a dataset's config does not depend on the model, and data/ does not import models/
        cfg = compose("config", overrides=["~model", f"dataset={name}", *overrides])
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
            folder = prepare_dataset(cfg, args.data_dir, force=args.force, download=True)
            print(f"{name}: {'already prepared in' if existed else 'prepared'} {folder}")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
