"""Genuine MNIST, prepared by this checkout's `data.prepare` in a benchmark's own data folder.

Used by `streaming.py` and `hardware.py`. The raw IDX files (gzipped as served, or uncompressed)
are taken from `raw_dir/mnist/` (linked, not copied) into `<data_dir>/downloads/mnist/`, and the
dataset is prepared there; a folder prepared by an older version of the code is prepared again.
Nothing is downloaded: prepare the raw files once with `python -m data.prepare mnist`.
"""

from __future__ import annotations

from pathlib import Path


def prepared_mnist(config, data_dir: Path, raw_dir: Path) -> Path:
    """The prepared MNIST folder for `config.dataset` under `data_dir`, prepared there if needed."""
    from conf.errors import UserError
    from data.prepare import prepare_dataset, prepared_dir
    from data.sources import SOURCES

    downloads = data_dir / "downloads" / "mnist"
    downloads.mkdir(parents=True, exist_ok=True)
    for remote in SOURCES["mnist"].files:
        for name in (remote.name, remote.name.removesuffix(".gz")):
            if (raw_dir / "mnist" / name).is_file() and not (downloads / name).exists():
                (downloads / name).symlink_to((raw_dir / "mnist" / name).resolve())
    try:
        return prepare_dataset(config.dataset, data_dir)
    except UserError:
        if not prepared_dir(config.dataset, data_dir).exists():  # no raw files: nothing to prepare from
            raise
        return prepare_dataset(config.dataset, data_dir, force=True)  # stale: prepared by older code
