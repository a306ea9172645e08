"""A full disk: every stage ends in one line naming the folder, leaves no partial file, and loses nothing.

As root the test mounts a small tmpfs and fills it; otherwise (and always, for training) a
file-size limit (RLIMIT_FSIZE) stands in for it: a write past the limit fails as it would on ENOSPC.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from tests.conftest import run_main

TRAIN = ["trainer.epochs=3", "model.hidden_units=[64]"]
ONE_ELEMENT = "input=[" + ",".join(["0"] * 64) + "]"


def files_of(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root; the RLIMIT_FSIZE test below covers training")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk) -> None:
    with open(disk / "filler", "wb", buffering=0) as handle:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError:
                pass


def test_every_stage_on_a_full_disk_is_one_line_and_the_run_survives(tmp_path, digits_data, small_disk):
    shutil.copytree(digits_data, tmp_path / "data")
    results = f"results_dir={small_disk / 'results'}"
    killed = run_main(tmp_path, *TRAIN, results, fault={"point": "committed", "epoch": 1})
    assert killed.returncode == -9, killed.stderr
    [run] = (small_disk / "results" / "mlp" / "digits").iterdir()
    fill(small_disk)
    before = files_of(small_disk)
    for args in (["stage=evaluate"], ["stage=export"], ["stage=infer", ONE_ELEMENT], [], None):
        command = [f"run={run}", *args] if args is not None else TRAIN  # None: a fresh run
        result = run_main(tmp_path, *command, results)
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: the disk is full writing into {small_disk}/"), (
            command, lines)  # the folder on the full disk, not the folder the command started in
        assert "free some space" in lines[0] and "Traceback" not in result.stderr
        assert files_of(small_disk) == before, command  # nothing half-written, nothing of the run lost
    (small_disk / "filler").unlink()
    resumed = run_main(tmp_path, f"run={run}", results)
    assert resumed.returncode == 0, resumed.stderr
    assert [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]] == ["1", "2", "3"]


def test_training_past_a_file_size_limit_is_one_line_and_leaves_no_run(tmp_path, digits_data):
    shutil.copytree(digits_data, tmp_path / "data")
    # each checkpoint of this model is larger than the limit
    result = run_main(tmp_path, "trainer.epochs=2", "model.hidden_units=[256]", fault={"file_size_limit": 40_000})
    assert result.returncode == 2, result.stderr
    # the run's log lines come first on stderr; then the one line of the error, and no traceback
    errors = [line for line in result.stderr.splitlines() if not line.startswith(("[", " ", "│", "├", "└", "config"))]
    assert len(errors) == 1 and errors[0].startswith("error: the disk is full writing into "), result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0] and "Traceback" not in result.stderr
    assert list((tmp_path / "results").rglob("*")) == []  # failed before its first checkpoint: no run left
