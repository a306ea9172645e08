"""The command line beyond bad values (those are the catalogue of tests/test_bad_inputs.py): Hydra's own
options, help, the default folders and the mode probe it skips."""

from __future__ import annotations

from tests.conftest import run_main


def test_hydra_options_that_used_to_fail_work_and_leave_nothing(tmp_path):
    shown = run_main(tmp_path, "--cfg", "hydra", "--resolve", f"results_dir={tmp_path / 'results'}")
    assert shown.returncode == 0, shown.stderr
    assert f"dir: {tmp_path / 'results'}/mlp/digits/20" in shown.stdout  # hydra.run.dir resolved
    assert list(tmp_path.iterdir()) == []  # printing the config creates no run folder
    quiet = run_main(tmp_path, "hydra/job_logging=disabled", "stage=evaluate", "run=nowhere")
    assert quiet.returncode == 2 and quiet.stderr.strip() == "error: run=nowhere: no such folder"
    assert list(tmp_path.iterdir()) == []


def test_default_folders_are_the_projects_wherever_the_command_starts(tmp_path):
    from tests.conftest import PROJECT_ROOT

    for extra in ([], ["hydra.job.chdir=true"]):
        shown = run_main(tmp_path, "--cfg", "job", "--resolve", *extra)
        assert shown.returncode == 0, shown.stderr
        assert f"data_dir: {PROJECT_ROOT / 'data'}\n" in shown.stdout
        assert f"results_dir: {PROJECT_ROOT / 'results'}\n" in shown.stdout
    relative = run_main(tmp_path, "--cfg", "job", "--resolve", "results_dir=mine")
    assert "results_dir: mine\n" in relative.stdout  # given on the command line: from the current folder
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_groups_to_choose_from_with_their_options(tmp_path):
    from tests.conftest import PROJECT_ROOT

    shown = run_main(tmp_path, "--help")
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines() if line.startswith("  ")}
    groups = {path.name for path in (PROJECT_ROOT / "conf").iterdir() if path.is_dir()} - {"hydra", "best_params",
                                                                                          "__pycache__"}
    for group in groups:  # every selectable group, with every option its folder holds
        options = sorted(path.stem for path in (PROJECT_ROOT / "conf" / group).glob("*.yaml"))
        assert lines[group].endswith(", ".join(options)) or ", ".join(options) + " (" in lines[group], group
    assert "best_params" not in shown.stdout and "schema" not in shown.stdout
    assert list(tmp_path.iterdir()) == []
    # the project's template lists no group through Hydra, so Hydra's listing is never made for it
    # (conf/hydra_shortcuts.list_config_groups_only_when_shown); templates that show it still get it, in full
    hydras = run_main(tmp_path, "hydra/help=default", "--help")
    assert hydras.returncode == 0 and "model: cnn, mlp, resnet, rnn, transformer, vae\n" in hydras.stdout, hydras.stderr
    assert "optimizer: adam, adamw, sgd\n" in hydras.stdout and "hydra/sweeper" not in hydras.stdout
    hydra_help = run_main(tmp_path, "--hydra-help")
    assert hydra_help.returncode == 0 and "hydra/sweeper: basic, optuna\n" in hydra_help.stdout, hydra_help.stderr
    assert list(tmp_path.iterdir()) == []


def test_hydras_mode_probe_is_skipped_only_where_nothing_can_set_the_mode(tmp_path, monkeypatch):
    from hydra._internal.hydra import Hydra

    from conf import CONF_DIR, hydra_shortcuts

    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)  # put back after the test
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - model: mlp\n")
    assert hydra_shortcuts.skip_hydras_mode_probe(["trainer.epochs=1"], conf)
    assert Hydra.get_mode(None, config_name="config", overrides=[]) is None  # Hydra's answer when nothing sets it
    for arguments in (["hydra.mode=MULTIRUN"], ["-cd", "/x"], ["--config-dir=/x"], ["hydra.searchpath=[file:///x]"]):
        assert not hydra_shortcuts.skip_hydras_mode_probe(arguments, conf), arguments
    (conf / "logger.yaml").write_text("wandb:\n  mode: offline\n")  # a mode that is not Hydra's
    assert hydra_shortcuts.skip_hydras_mode_probe([], conf)
    (conf / "experiment" / "sweep.yaml").write_text("# @package _global_\nhydra:\n  mode: MULTIRUN\n")
    assert not hydra_shortcuts.skip_hydras_mode_probe([], conf)  # a file that sets the mode keeps Hydra's probe
    (conf / "experiment" / "sweep.yaml").write_text("# @package hydra\nmode: MULTIRUN\n")
    assert not hydra_shortcuts.skip_hydras_mode_probe([], conf)
    assert hydra_shortcuts.skip_hydras_mode_probe([], CONF_DIR)  # the project's own files set no mode
