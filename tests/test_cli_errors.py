"""Bad input on the command line: one line on stderr, exit status 2, nothing left in results/."""

from __future__ import annotations

import pytest

from tests.conftest import run_main


@pytest.mark.parametrize(("args", "expected"), [
    (["model.hidden_units=abc"], "error: model.hidden_units: "),
    (["model.hiden=3"], "error: model.hiden: unknown key; allowed: hidden_units, dropout, activation"),
    (["trainer.epochs=0"], "error: trainer.epochs=0 is invalid: must be >= 1"),
    (["optimizer.lr=-1"], "error: optimizer.lr=-1.0 is invalid: must be > 0"),
    (["trainer.batch_size=0"], "error: trainer.batch_size=0 is invalid: must be >= 1"),
    (["model=foo"], "error: model=foo: no such option; available: cnn, mlp"),
    (["dataset=bar"], "error: dataset=bar: no such option; available: cifar10, diabetes, digits, fashion_mnist, "
                      "image_folder, mnist, multilabel, synthetic, wine"),
    (["model.dropout=["], "error: cannot parse override: "),
    (["-m", "--cfg", "job"], "error: Only one of --run, --multirun, --cfg, --info and --shell_completion can be "
                             "specified: -m runs a sweep, --cfg only prints the config"),
    # tasks, metrics, normalisation and augmentation are checked before TensorFlow starts
    (["dataset.task=ranking"], "error: dataset.task='ranking' is invalid: must be one of classification, "
                               "multilabel, regression"),
    (["dataset=diabetes", "optimized_metric=val_accuracy"], "error: optimized_metric='val_accuracy' is invalid: "
                                                            "task regression reports train_loss, train_mae, "),
    (["dataset=multilabel", "trainer.monitor=val_accuracy"], "error: trainer.monitor='val_accuracy' is invalid: "
                                                             "task multilabel reports val_loss, val_auc, "),
    (["dataset.normalize=zscore"], "error: dataset.normalize='zscore' is invalid: must be one of scale, "),
    (["dataset=wine", "dataset.augment=[{name:flip}]"], "error: dataset.augment=[{'name': 'flip'}] is invalid: "
                                                        "augmentation is for image datasets"),
    (["dataset.augment=[{name:rotate,factor:2}]"], "error: dataset.augment[0].factor=2 is invalid: a fraction in "
                                                   "[0, 0.5]"),
    (["dataset.augment=[{name:translate,factor:-0.1}]"], "error: dataset.augment[0].factor=-0.1 is invalid"),
    (["dataset.augment=[{name:blur}]"], "error: dataset.augment[0]={'name': 'blur'} is invalid: a mapping with "
                                        "name: one of flip, translate, rotate, contrast, crop"),
    (["dataset.augment=[{name:flip,mode:diagonal}]"], "error: dataset.augment[0].mode='diagonal' is invalid"),
    (["dataset.augment=[{name:crop,size:3}]"], "error: dataset.augment[0].size=3 is invalid: crop takes padding"),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, args, expected):
    (tmp_path / "results" / "earlier").mkdir(parents=True)
    (tmp_path / "results" / "earlier" / "metrics.json").write_text("{}")
    result = run_main(tmp_path, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr
    created = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "results").rglob("*"))
    assert created == ["results/earlier", "results/earlier/metrics.json"]


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


def test_hydras_mode_probe_is_skipped_only_where_nothing_can_set_the_mode(tmp_path, monkeypatch):
    from hydra._internal.hydra import Hydra

    import main
    from conf import CONF_DIR

    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)  # put back after the test
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - model: mlp\n")
    assert main.skip_hydras_mode_probe(["trainer.epochs=1"], conf)
    assert Hydra.get_mode(None, config_name="config", overrides=[]) is None  # Hydra's answer when nothing sets it
    for arguments in (["hydra.mode=MULTIRUN"], ["-cd", "/x"], ["--config-dir=/x"], ["hydra.searchpath=[file:///x]"]):
        assert not main.skip_hydras_mode_probe(arguments, conf), arguments
    (conf / "experiment" / "sweep.yaml").write_text("# @package _global_\nhydra:\n  mode: MULTIRUN\n")
    assert not main.skip_hydras_mode_probe([], conf)  # a file that sets the mode keeps Hydra's probe
    assert main.skip_hydras_mode_probe([], CONF_DIR)  # the project's own files set no mode
