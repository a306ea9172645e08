"""A run's checkpoints: `checkpoints/epoch_<n>.keras` files and `state.json`, addressed by name.

Only the names `best`, `last` and `epoch_<n>` reach a file: a run folder may come from someone
else, and no other name is ever turned into a path. No TensorFlow here: stages check a
checkpoint exists before TensorFlow starts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conf.errors import UserError
from runs.untrusted import contained

CHECKPOINTS = "checkpoints"
EPOCH_FILE = re.compile(r"^epoch_(\d+)\.keras$")


def epoch_checkpoints(run_dir: Path) -> dict[int, Path]:
    """The complete per-epoch checkpoints of a run, by epoch number (temporary files never match)."""
    directory = run_dir / CHECKPOINTS
    contained(run_dir, CHECKPOINTS)
    if not directory.is_dir():
        return {}
    found = [match for match in (EPOCH_FILE.match(path.name) for path in directory.iterdir()) if match]
    contained(run_dir, *(f"{CHECKPOINTS}/{match.group(0)}" for match in found))
    return {int(match.group(1)): directory / match.group(0) for match in found}


def checkpoint_state(run_dir: Path) -> dict:
    """`checkpoints/state.json`: last and best epoch; empty for a run killed during its first epoch."""
    path = run_dir / CHECKPOINTS / "state.json"
    contained(run_dir, CHECKPOINTS, f"{CHECKPOINTS}/state.json")
    if not path.exists():
        return {}
    if path.stat().st_size > 1 << 20:
        raise UserError(f"{path} is larger than 1 MB; it is written by training, do not edit it")
    try:
        state = json.loads(path.read_text())
        if not all(isinstance(state.get(key, 0), int) for key in ("last_epoch", "best_epoch")) or \
                "last_epoch" not in state:
            raise ValueError("epochs must be integers")
        return state
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{path} is unreadable; it is written by training, do not edit it") from None


def named_checkpoints(run_dir: Path) -> dict[str, tuple[Path, int]]:
    """Every checkpoint of a run by name, with its file and epoch: `best`, `last`, `epoch_<n>`.

    `best` and `last` are the epochs `state.json` names; training never prunes the best one.
    """
    epochs = epoch_checkpoints(run_dir)
    state = checkpoint_state(run_dir)
    names = {alias: (epochs[state[key]], state[key]) for alias, key in (("best", "best_epoch"), ("last", "last_epoch"))
             if state.get(key) in epochs}
    names.update({f"epoch_{n}": (epochs[n], n) for n in sorted(epochs)})
    return names


def resolve_checkpoint(run_dir: Path, name: str) -> tuple[Path, int]:
    """The file and epoch number of checkpoint `name` (`best`, `last` or `epoch_<n>`)."""
    named = named_checkpoints(run_dir)
    if name in named:
        return named[name]
    available = list(named)
    raise UserError(f"checkpoint={name}: not in {run_dir / CHECKPOINTS}; available: "
                    f"{', '.join(available) if available else 'none (no epoch finished)'}")
