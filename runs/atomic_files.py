"""Writes that never leave a half-written file behind: a temporary file in the same folder, then a rename.

A run can be killed at any moment (Ctrl-C, SIGKILL, a full disk); readers of a run folder must only
ever see complete files, because they decide what to resume from.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def replace_atomically(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call `write(temporary_path)` in path's folder, then rename the result onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp",
                                         dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes it private; give it a normal file's mode
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())  # the bytes reach the disk before the name does
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    replace_atomically(path, lambda temporary: temporary.write_text(text))


def write_json_atomically(path: Path, data: Any) -> None:
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_keras(network: Any, path: Path) -> None:
    """Save a Keras model (weights, optimizer state, architecture) as a `.keras` file (`path` ends so).

    A network whose architecture Keras cannot serialise (a subclass built from other models, like the
    Keras guide's VAE, without `get_config`) is saved as a `.keras` archive of its weights and optimizer
    state alone: all this project ever reads from a checkpoint (`load_weights` into a network it builds).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "saving a model that has not yet been built": a network never called
        if getattr(network, "_architecture_serializable", True):
            try:
                network.save(str(path))
                return
            except NotImplementedError:  # get_config: "created by passing non-serializable argument values"
                network._architecture_serializable = False
        _save_weights_archive(network, path)


def weights_only_metadata() -> dict:
    """metadata.json of an archive that leaves the architecture out (a network `get_config` cannot describe)."""
    import keras

    return {"keras_version": keras.__version__, "architecture": "not serialisable: weights only"}


def _save_weights_archive(network: Any, path: Path) -> None:
    """A `.keras` zip holding what `load_weights` reads (`model.weights.h5`: weights and optimizer state),
    with a `metadata.json` that says the architecture was left out."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "model.weights.h5"
        network.save_weights(str(weights))
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.json", json.dumps(weights_only_metadata()))
            archive.write(weights, "model.weights.h5")
