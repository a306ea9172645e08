"""Downloading a dataset's raw files: every mirror in turn, resumable, retried, checked, never half-done.

A file is streamed to `<name>.part` beside its destination with a progress bar; an interrupted
transfer resumes where it stopped when the server honours HTTP ranges; failed attempts are retried
with exponential back-off, then the next mirror is tried; the finished file must match its
SHA-256 before it is renamed into place. So a file under its final name is always complete and
verified, whatever happened to the transfer.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conf.errors import UserError

CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """A raw file of a dataset: its name, the addresses that serve it (canonical first), its SHA-256,
    and optionally the name and SHA-256 of its genuine uncompressed form, accepted when placed by hand."""

    name: str
    urls: tuple[str, ...]
    sha256: str
    unpacked: tuple[str, str] | None = None


def verified_local(remote: RemoteFile, directory: Path) -> Path | None:
    """The file (or its uncompressed form) in `directory` once its checksum is verified; None if
    neither is there; UserError if one is there but is not the expected file."""
    candidates = [(remote.name, remote.sha256), *([remote.unpacked] if remote.unpacked else [])]
    for name, digest in candidates:
        path = Path(directory) / name
        if path.is_file():
            if sha256_of(path) != digest:
                raise UserError(f"{path} is not the expected file (its SHA-256 is not {digest}); "
                                "delete it and run the command again")
            return path
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ChecksumMismatch(Exception):
    pass


def _transfer(url: str, part: Path, timeout: float, progress) -> None:
    """Append the rest of `url` to `part`, asking for a range when part of it is there already."""
    have = _size(part)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have and response.status == 206
        total = response.length + (have if resumed else 0) if response.length is not None else None
        task = progress.add_task(part.name.removesuffix(".part"), total=total, completed=have if resumed else 0)
        with open(part, "ab" if resumed else "wb") as handle:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                handle.write(chunk)
                progress.advance(task, len(chunk))
        if total is not None and _size(part) < total:
            raise http.client.IncompleteRead(b"", total - _size(part))


def download(remote: RemoteFile, directory: Path, attempts: int = 3, backoff: float = 1.0,
             timeout: float = 60.0) -> Path:
    """`directory/remote.name`, downloaded and verified unless it is there and verified already."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    destination = Path(directory) / remote.name
    if destination.exists():
        if sha256_of(destination) != remote.sha256:
            raise UserError(f"{destination} is not the expected file (its SHA-256 is not {remote.sha256}); "
                            "delete it and run the command again")
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    errors = []
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  transient=True, console=Console(stderr=True), disable=not sys.stderr.isatty()) as progress:
        for url in remote.urls:
            for attempt in range(attempts):
                try:
                    _transfer(url, part, timeout, progress)
                    if sha256_of(part) != remote.sha256:
                        part.unlink()
                        raise ChecksumMismatch(f"{url} served a file whose SHA-256 is not {remote.sha256}")
                    part.replace(destination)
                    return destination
                except ChecksumMismatch as error:
                    errors.append(str(error))
                    break  # this mirror serves another file; retrying it will not help
                except urllib.error.HTTPError as error:
                    errors.append(f"{url}: HTTP Error {error.code} {error.reason}")
                    if error.code == 416:  # the partial file is longer than the file: start over
                        part.unlink(missing_ok=True)
                    elif error.code in (401, 403, 404, 410):
                        break  # not served here: next mirror
                except OSError as error:
                    if error.errno == errno.ENOSPC:
                        part.unlink(missing_ok=True)
                        raise UserError(f"the disk is full while downloading {remote.name} into {directory}; "
                                        "free some space and run the command again") from None
                    errors.append(f"{url}: {_reason(error)}")
                except http.client.HTTPException as error:  # e.g. the connection dropped mid-file
                    errors.append(f"{url}: {type(error).__name__}, kept {_size(part)} bytes to resume from")
                if attempt + 1 < attempts:
                    time.sleep(backoff * 2**attempt)
    raise UserError(f"could not download {remote.name} from any of {len(remote.urls)} address(es) "
                    f"(last: {errors[-1] if errors else 'no address'}); download it by hand from "
                    f"{remote.urls[0]} and place it at {destination} (SHA-256 {remote.sha256})")


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _reason(error: OSError) -> str:
    if isinstance(error, urllib.error.URLError):
        return f"no connection ({error.reason})"
    return f"{type(error).__name__}: {error}"
