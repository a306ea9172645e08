"""Reading run folders as data: finding them, re-typing their config, naming their checkpoints (no TensorFlow)."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from conf.errors import UserError
from runs.checkpoints import named_checkpoints, resolve_checkpoint
from runs.folder import find_run, load_run_config
from tests.conftest import compose_config


def make_run(folder, last_epoch=3, kept=(2, 3), best=2, config=None):
    """A run folder as training leaves it, with empty stand-ins for the checkpoint files."""
    (folder / ".hydra").mkdir(parents=True)
    config = config or compose_config()
    (folder / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(config, resolve=True))
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir()
    for epoch in kept:
        (checkpoints / f"epoch_{epoch}.keras").write_bytes(b"x")
    (checkpoints / ".epoch_4.keras.tmp123.keras").write_bytes(b"half")  # an interrupted write
    (checkpoints / "state.json").write_text(json.dumps({"last_epoch": last_epoch, "best_epoch": best}))
    return folder


def test_find_run_by_path_and_latest(tmp_path):
    older = make_run(tmp_path / "results" / "mlp" / "digits" / "2026-01-01_10-00-00")
    newer = make_run(tmp_path / "results" / "mlp" / "digits" / "2026-01-01_10-00-00_1")
    (tmp_path / "results" / "mlp" / "digits" / "2026-02-01_00-00-00").mkdir()  # not a run: no config
    failed = tmp_path / "results" / "mlp" / "digits" / "2026-03-01_00-00-00"  # failed before its first epoch
    (failed / ".hydra").mkdir(parents=True)
    (failed / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(compose_config(), resolve=True))
    assert find_run(str(older), tmp_path / "results", "mlp", "digits") == older.resolve()
    assert find_run("latest", tmp_path / "results", "mlp", "digits") == newer.resolve()
    with pytest.raises(UserError, match="run=latest: no run of model=cnn on dataset=digits"):
        find_run("latest", tmp_path / "results", "cnn", "digits")
    with pytest.raises(UserError, match="no such folder"):
        find_run(str(tmp_path / "nope"), tmp_path / "results", "mlp", "digits")
    with pytest.raises(UserError, match="is not a run folder: it has no .hydra/config.yaml"):
        find_run(str(tmp_path / "results"), tmp_path / "results", "mlp", "digits")


def test_checkpoints_are_addressed_by_name_and_half_written_files_ignored(tmp_path):
    run = make_run(tmp_path / "run")
    assert list(named_checkpoints(run)) == ["best", "last", "epoch_2", "epoch_3"]
    assert resolve_checkpoint(run, "best") == (run / "checkpoints" / "epoch_2.keras", 2)
    assert resolve_checkpoint(run, "last") == (run / "checkpoints" / "epoch_3.keras", 3)
    assert resolve_checkpoint(run, "epoch_2") == (run / "checkpoints" / "epoch_2.keras", 2)
    for name in ("epoch_1", "epoch_4", "final"):
        with pytest.raises(UserError, match=f"checkpoint={name}: not in .*; available: best, last, epoch_2, epoch_3"):
            resolve_checkpoint(run, name)


def test_a_run_killed_before_its_first_checkpoint_has_none(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    with pytest.raises(UserError, match=r"available: none \(no epoch finished\)"):
        resolve_checkpoint(run, "best")


def test_runs_in_the_same_second_sort_by_their_number(tmp_path):
    base = tmp_path / "results" / "mlp" / "digits"
    for name in ("2026-01-01_10-00-00", "2026-01-01_10-00-00_2", "2026-01-01_10-00-00_10"):
        make_run(base / name)
    assert find_run("latest", tmp_path / "results", "mlp", "digits").name == "2026-01-01_10-00-00_10"
    assert find_run("latest", tmp_path / "results", "mlp", "digits",
                    exclude=base / "2026-01-01_10-00-00_10").name == "2026-01-01_10-00-00_2"


def test_corrupt_state_file_is_a_user_error(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "checkpoints" / "state.json").write_text("{")
    with pytest.raises(UserError, match="state.json is unreadable"):
        resolve_checkpoint(run, "last")


def test_saved_config_is_typed_again(tmp_path):
    run = make_run(tmp_path / "run", config=compose_config("model=cnn", "model.filters=8"))
    config = load_run_config(run)
    assert config.model.filters == 8 and OmegaConf.get_type(config.model).__name__ == "CNNConfig"


@pytest.mark.parametrize(("edit", "expected"), [
    ("  _target_: models.MLP", "model._target_='os.system' is not a registered model"),
    ("  dropout: 0.2", "is not a valid run config: model.dropout=2.5 is invalid"),
    ("  hidden_units:", "is not a valid run config: model.hidden_units: "),
])
def test_a_tampered_config_is_refused(tmp_path, edit, expected):
    run = make_run(tmp_path / "run")
    path = run / ".hydra" / "config.yaml"
    replacement = {"  _target_: models.MLP": "  _target_: os.system", "  dropout: 0.2": "  dropout: 2.5",
                   "  hidden_units:": "  hidden_units: many\n  unused_list:"}[edit]
    path.write_text(path.read_text().replace(edit, replacement, 1))
    with pytest.raises(UserError, match=expected):
        load_run_config(run)


def test_an_unreadable_config_is_refused(tmp_path):
    run = make_run(tmp_path / "run")
    (run / ".hydra" / "config.yaml").write_text("model: [unclosed")
    with pytest.raises(UserError, match="config.yaml is unreadable: while parsing"):
        load_run_config(run)
