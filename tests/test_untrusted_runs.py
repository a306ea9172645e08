"""A run folder is data from someone else: nothing in it runs, resolves, leaks or leads out of it.

Each test crafts a folder the way an attacker would and checks the refusal, and that nothing
happened outside the run (no folder created, no secret printed, no file written).
"""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest

from conf.errors import UserError
from runs.checkpoints import named_checkpoints, resolve_checkpoint
from runs.folder import find_run, load_preprocessing, load_run_config, run_choices
from runs.output_dirs import stage_output_dir
from tests.test_run_folder import make_run


def _write_hydra(run, model="mlp", dataset="digits"):
    (run / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  run:\n    dir: ${unique_dir:x}\n  runtime:\n    choices:\n"
        f"      model: {model}\n      dataset: {dataset}\n")


def _append(run, text):
    path = run / ".hydra" / "config.yaml"
    path.write_text(path.read_text() + text)


def test_the_projects_resolvers_never_run_on_a_loaded_config(tmp_path):
    run = make_run(tmp_path / "run")
    target = tmp_path / "elsewhere" / "created"
    config = run / ".hydra" / "config.yaml"
    config.write_text(re.sub(r"(?m)^data_dir: .*$", f"data_dir: ${{unique_dir:{target}}}", config.read_text()))
    with pytest.raises(UserError, match=r"data_dir holds an interpolation"):
        load_run_config(run)
    assert not (tmp_path / "elsewhere").exists()


def test_an_environment_variable_is_never_read_nor_printed(tmp_path, monkeypatch):
    monkeypatch.setenv("RUN_SECRET", "s3cr3t")
    run = make_run(tmp_path / "run")
    config = run / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("activation: relu", "activation: ${oc.env:RUN_SECRET}"))
    with pytest.raises(UserError) as refused:
        load_run_config(run)
    assert "s3cr3t" not in str(refused.value) and "model.activation holds an interpolation" in str(refused.value)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    run = make_run(tmp_path / "run")
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
        f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8))
    _append(run, bomb)
    started = time.monotonic()
    with pytest.raises(UserError, match="uses YAML aliases"):
        load_run_config(run)
    assert time.monotonic() - started < 5


def test_an_oversized_config_is_not_read(tmp_path):
    run = make_run(tmp_path / "run")
    _append(run, "padding: '" + "x" * (2 << 20) + "'\n")
    with pytest.raises(UserError, match=r"config.yaml is larger than 1 MB"):
        load_run_config(run)


@pytest.mark.parametrize("choice", ["../x", "../../etc", "a/b", ".."])
def test_a_recorded_choice_cannot_name_a_folder_outside_results(tmp_path, choice):
    run = make_run(tmp_path / "run")
    _write_hydra(run, model=choice)
    with pytest.raises(UserError, match=r"choices.model=.* is not a config option name"):
        run_choices(run)
    with pytest.raises(UserError, match="is not a config option name"):
        stage_output_dir("train", str(run), "last", str(tmp_path / "results"), "mlp", "digits", "now")
    assert not (tmp_path / "x").exists()


def test_a_checkpoints_symlink_out_of_the_run_is_refused_and_nothing_outside_is_touched(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "epoch_1.keras").write_bytes(b"someone else's file")
    run = make_run(tmp_path / "run", kept=())
    (run / "checkpoints" / "state.json").rename(outside / "state.json")
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(outside)
    with pytest.raises(UserError, match=r"checkpoints is a symbolic link"):
        named_checkpoints(run)
    with pytest.raises(UserError, match=r"checkpoints is a symbolic link"):
        stage_output_dir("train", str(run), None, str(tmp_path / "results"), "mlp", "digits", "now")
    assert sorted(p.name for p in outside.iterdir()) == ["epoch_1.keras", "state.json"]


def test_a_symlinked_checkpoint_file_is_refused(tmp_path):
    (tmp_path / "secret.keras").write_bytes(b"not ours")
    run = make_run(tmp_path / "run", kept=(2,))
    (run / "checkpoints" / "epoch_3.keras").symlink_to(tmp_path / "secret.keras")
    with pytest.raises(UserError, match=r"epoch_3.keras is a symbolic link"):
        resolve_checkpoint(run, "last")


@pytest.mark.parametrize("folder", ["evaluate", "infer", "export", "resume", "history.csv", "train", ".hydra"])
def test_stage_outputs_never_follow_a_link_out_of_the_run(tmp_path, folder):
    outside = tmp_path / "outside"
    outside.mkdir()
    run = make_run(tmp_path / "run")
    _write_hydra(run)
    if folder == ".hydra":  # the whole record moved out: the run itself is refused
        os.rename(run / ".hydra", outside / ".hydra")
        (run / ".hydra").symlink_to(outside / ".hydra")
    else:
        (run / folder).symlink_to(outside)
    stage = {"evaluate": "evaluate", "infer": "infer", "export": "export"}.get(folder, "train")
    with pytest.raises(UserError, match="is a symbolic link"):
        stage_output_dir(stage, str(run), None, str(tmp_path / "results"), "mlp", "digits", "now")
    assert [p.name for p in outside.iterdir()] in ([], [".hydra"])  # nothing written there


def test_a_crafted_preprocessing_record_is_refused(tmp_path):
    run = make_run(tmp_path / "run")
    config = load_run_config(run)
    (run / "preprocessing.json").write_text('{"normalize": "standardize", "scale": 1.0, "feature_mean": [1e309]}')
    with pytest.raises(UserError, match=r"preprocessing.json|feature_mean must be 64 finite numbers"):
        load_preprocessing(run, config)
    (run / "preprocessing.json").write_text('{"normalize": "scale", "scale": 16.0, "code": "import os"}')
    with pytest.raises(UserError, match="is not a preprocessing record written by training"):
        load_preprocessing(run, config)


def test_latest_never_resolves_to_a_link_out_of_results(tmp_path):
    results = tmp_path / "results" / "mlp" / "digits"
    results.mkdir(parents=True)
    elsewhere = make_run(tmp_path / "elsewhere")
    (results / "2030-01-01_00-00-00").symlink_to(elsewhere)
    run = find_run("latest", tmp_path / "results", "mlp", "digits")
    assert run == elsewhere.resolve()  # a link *to* a run the user placed is followed: the run is data
    (elsewhere / ".hydra" / "config.yaml").unlink()
    (elsewhere / ".hydra" / "config.yaml").symlink_to(tmp_path / "nothing")
    with pytest.raises(UserError, match="run=latest: no run"):
        find_run("latest", tmp_path / "results", "mlp", "digits")
