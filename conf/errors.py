"""How a mistake in the user's input reaches the user: one line, the key or file at fault, what is allowed.

Hydra prints composition errors over several lines, followed by a hint about HYDRA_FULL_ERROR.
`main.py` lets those exceptions reach it instead and prints `one_line_error(exception)`;
anything that is not the user's mistake keeps its full traceback.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import sys


class UserError(Exception):
    """Something the user asked for cannot be done as asked: a bad value, path, file or input."""


class ConfigError(UserError, ValueError):
    """A configuration value outside what its schema allows."""


DISK_FULL_MESSAGES = ("No space left on device", "File too large", "Disk quota exceeded")


def is_disk_full(error: BaseException, directory: str | os.PathLike | None = None) -> bool:
    """Whether a failed write failed for want of disk space.

    ENOSPC, EDQUOT or EFBIG (a file-size limit) by errno; TensorFlow's and h5py's writers report it
    in their message; and numpy's short writes (`n requested and m written`) carry no errno at all,
    so they count when `directory` has less than 1 MiB free.
    """
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    if any(text in str(error) for text in DISK_FULL_MESSAGES):
        return True
    if directory is None or not isinstance(error, OSError):
        return False
    try:
        return shutil.disk_usage(directory).free < (1 << 20)
    except OSError:
        return False


def exit_with_message(message: str) -> None:
    """A mistake in the user's input: one line on stderr, exit status 2, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def first_line(error: BaseException | str) -> str:
    """The first line of an error's message, or its type's name when the message is empty."""
    text = str(error).strip()
    if text:
        return text.splitlines()[0].strip()
    return type(error).__name__ if isinstance(error, BaseException) else ""


def one_line_error(error: BaseException) -> str | None:
    """The one-line message for an error the user caused, or None for a bug (show its traceback)."""
    from hydra.errors import CompactHydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    cause: BaseException | None = error
    while cause is not None:  # e.g. a UserError raised by a resolver, wrapped by OmegaConf and Hydra
        if isinstance(cause, UserError):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, MissingConfigException) and error.options is not None:
        missing = (error.missing_cfg_file or "").strip("/")
        group, _, name = missing.rpartition("/")
        return (f"{group}={name}: no such option; available: {', '.join(sorted(error.options))}"
                if group else first_line(str(error)))
    if isinstance(error, OverrideParseException):
        return f"cannot parse override: {first_line(str(error))} (see Hydra's override grammar)"
    cause = error.__cause__ if isinstance(error, CompactHydraException) else error
    if isinstance(cause, OmegaConfBaseException) and cause.full_key:
        message = first_line(cause.msg or str(cause))
        schema = getattr(cause, "object_type", None)
        if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and dataclasses.is_dataclass(schema):
            allowed = [f.name for f in dataclasses.fields(schema) if not f.name.startswith("_")]
            message = f"unknown key; allowed: {', '.join(allowed)}"
        return f"{cause.full_key}: {message}"
    if isinstance(error, CompactHydraException):
        return first_line(str(error))
    return None
