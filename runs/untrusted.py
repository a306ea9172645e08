"""Reading a run folder as data that may come from someone else: bounded, literal, contained.

Every stage that acts on an earlier run reads it through here, so a crafted folder cannot make the
project act outside the run (a symbolic link to elsewhere, a name with `..`), run code or
resolvers (`${...}` interpolations are refused, never resolved, so no environment variable is
read either), or exhaust memory (files are read only up to a bound, YAML aliases are refused).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from conf.errors import UserError, first_line

MAX_YAML_BYTES = 1 << 20  # a run's config files are read only up to this size
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a config group option: no path, no `..`


def contained(run_dir: Path, *names: str) -> None:
    """Refuse entries of a run folder that lead out of it: a symbolic link, or a path resolving outside."""
    root = Path(run_dir).resolve()
    for name in names:
        path = Path(run_dir) / name
        for step in [*reversed(path.relative_to(run_dir).parents), path.relative_to(run_dir)]:
            if str(step) != "." and (Path(run_dir) / step).is_symlink():
                raise UserError(f"{Path(run_dir) / step} is a symbolic link: a run folder is read as data, and "
                                "nothing in it may lead out of it")
        if path.exists() and not path.resolve().is_relative_to(root):
            raise UserError(f"{path} resolves outside its run folder {root}")


def read_yaml_data(path: Path, allow_interpolation: bool = False) -> Any:
    """A YAML file of a run folder as plain data: at most MAX_YAML_BYTES, no aliases (a few bytes of
    nested aliases can expand to gigabytes), and no `${...}` unless `allow_interpolation`."""
    if not path.is_file():
        raise UserError(f"{path} is missing")
    if path.stat().st_size > MAX_YAML_BYTES:
        raise UserError(f"{path} is larger than {MAX_YAML_BYTES >> 20} MB: not a config written by this project")
    try:
        text = path.read_text()
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise UserError(f"{path} uses YAML aliases (*name): a run's config never does, so it is refused")
        data = yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise UserError(f"{path} is unreadable: {first_line(error)}") from None
    if not allow_interpolation:
        found = _interpolation(data)
        if found is not None:
            raise UserError(f"{path}: {found[0]} holds an interpolation (${{...}}); a run folder's config is "
                            "literal values only, so it is refused")
    return data


def _interpolation(data: Any, key: str = "") -> tuple[str] | None:
    """The first key whose value (or name) holds `${`, as a 1-tuple; None if there is none."""
    if isinstance(data, dict):
        for name, value in data.items():
            where = f"{key}.{name}" if key else str(name)
            if "${" in str(name):
                return (where,)
            found = _interpolation(value, where)
            if found:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = _interpolation(value, f"{key}[{index}]")
            if found:
                return found
    elif isinstance(data, str) and "${" in data:
        return (key or "the document",)
    return None
