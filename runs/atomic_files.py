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


def save_keras_atomically(network: Any, path: Path) -> None:
    """Save a Keras model (weights, optimizer state, architecture) as a `.keras` file atomically."""
    # Keras insists on the `.keras` ending, so the temporary name keeps it.
    replace_atomically(path, lambda temporary: network.save(str(temporary)), suffix=".keras")
