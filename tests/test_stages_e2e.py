"""evaluate, infer, export, resume and branch through `python main.py`, on a tiny run made once."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import read_metrics, run_folders, run_main, serve_exported

TINY = ["trainer.epochs=3", "model.hidden_units=[32]", "trainer.keep_checkpoints=null"]

pytestmark = pytest.mark.xdist_group("stages_e2e")  # one test worker: its tests share `trained_run`, made once


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, digits_data):
    """A folder with prepared digits and one finished run (every epoch's checkpoint kept)."""
    work = tmp_path_factory.mktemp("stages")
    shutil.copytree(digits_data, work / "data")
    result = run_main(work, *TINY)
    assert result.returncode == 0, result.stderr
    return work


@pytest.fixture(scope="module")
def trained_run(workdir):
    [run_dir] = run_folders(workdir)
    return run_dir


def _json_stdout(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _fingerprint(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_evaluate_best_and_an_earlier_epoch_without_overwriting(workdir, trained_run):
    best = _json_stdout(run_main(workdir, "stage=evaluate", "run=latest"))
    assert best["checkpoint"] == "best" and best["run"] == str(trained_run.resolve())
    assert best["test"]["accuracy"] == pytest.approx(read_metrics(trained_run)["test"]["accuracy"], abs=1e-6)
    early = _json_stdout(run_main(workdir, "stage=evaluate", f"run={trained_run}", "checkpoint=epoch_1"))
    assert early["epoch"] == 1 and early["test"]["loss"] != best["test"]["loss"]
    saved = sorted((trained_run / "evaluate").glob("*/metrics.json"))
    assert [json.loads(p.read_text())["checkpoint"] for p in saved] == ["best", "epoch_1"]


def test_infer_from_the_shell_a_file_and_stdin(workdir, trained_run):
    from data.prepare import load_split

    x, y = load_split(workdir / "data" / "digits", "test", [64])
    inline = _json_stdout(run_main(workdir, "stage=infer", "run=latest", f"input={json.dumps(x[:1].tolist())}"))
    [prediction] = inline["predictions"]
    assert len(prediction["probabilities"]) == 10 and sum(prediction["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert prediction["class"] == int(np.argmax(prediction["probabilities"]))
    np.save(workdir / "batch.npy", x[:5].reshape(5, 8, 8))
    from_file = _json_stdout(run_main(workdir, "stage=infer", "run=latest", "input=batch.npy", "checkpoint=epoch_2"))
    assert len(from_file["predictions"]) == 5 and from_file["epoch"] == 2
    piped = run_main(workdir, "stage=infer", "run=latest", "input=-", stdin=json.dumps(x[:1].tolist()))  # a pipe
    assert _json_stdout(piped)["predictions"] == inline["predictions"]
    assert len(list((trained_run / "infer").glob("*/predictions.json"))) == 3


@pytest.mark.parametrize(("args", "expected"), [
    (["input=[1,2,3]"], "error: input has shape [3]; the model takes elements of shape [8, 8, 1] (or 64 values each)"),
    (["input=[[a,b]]"], "error: input must hold numbers only"),
    (["input=[0]", "checkpoint=epoch_7"], "error: checkpoint=epoch_7: not in "),
])
def test_infer_bad_input_is_one_line(workdir, trained_run, args, expected):
    before = sorted(p.name for p in (trained_run / "infer").iterdir()) if (trained_run / "infer").exists() else []
    result = run_main(workdir, "stage=infer", "run=latest", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and result.stderr.startswith(expected)
    after = sorted(p.name for p in (trained_run / "infer").iterdir()) if (trained_run / "infer").exists() else []
    assert after == before  # a refused job leaves no folder


def test_export_reloads_with_tensorflow_alone_and_gives_the_same_predictions(workdir, trained_run):
    report = _json_stdout(run_main(workdir, "stage=export", "run=latest"))
    assert report["signature"] == "serving_default"
    from data.prepare import load_split
    from runs.folder import load_run_config
    from runs.stages.trained_run import load_trained_model

    x, _ = load_split(workdir / "data" / "digits", "test", [8, 8, 1])
    outputs = serve_exported(workdir, report["saved_model"], x[:7].astype("float32"))
    config = load_run_config(trained_run)
    best = read_metrics(trained_run)["best_epoch"]
    expected = load_trained_model(config, trained_run / "checkpoints" / f"epoch_{best}.keras").predict(x[:7] / 16.0)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    assert outputs["class"] == expected.argmax(axis=1).tolist()


def test_corrupt_checkpoint_and_foreign_target_are_refused(workdir, trained_run, tmp_path):
    broken = tmp_path / "broken_run"
    shutil.copytree(trained_run, broken, ignore=shutil.ignore_patterns("evaluate", "infer", "export"))
    best = broken / "checkpoints" / f"epoch_{read_metrics(trained_run)['best_epoch']}.keras"
    best.write_bytes(b"not a zip file")
    result = run_main(workdir, "stage=evaluate", f"run={broken}")
    assert result.returncode == 2 and result.stderr.startswith(f"error: checkpoint {best} cannot be loaded into MLP")
    config = broken / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("_target_: models.MLP", "_target_: subprocess.call"))
    result = run_main(workdir, "stage=evaluate", f"run={broken}", "checkpoint=last")
    assert result.returncode == 2
    assert "model._target_='subprocess.call' is not a registered model" in result.stderr
    result = run_main(workdir, "stage=evaluate", f"run={tmp_path}")
    assert result.returncode == 2 and "is not a run folder" in result.stderr
    result = run_main(workdir, "stage=export")
    assert result.stderr.strip() == "error: stage=export acts on a trained run: add run=<run folder> or run=latest"


def test_branch_from_an_epoch_is_a_new_run_that_leaves_the_parent_alone(workdir, trained_run):
    parent = _fingerprint(trained_run / "checkpoints") | {"metrics": _fingerprint(trained_run)["metrics.json"]}
    result = run_main(workdir, f"run={trained_run}", "checkpoint=epoch_2", "trainer.epochs=4", "optimizer.lr=0.01")
    assert result.returncode == 0, result.stderr
    branch = max(run_folders(workdir))
    assert branch != trained_run
    assert (_fingerprint(trained_run / "checkpoints") | {"metrics": _fingerprint(trained_run)["metrics.json"]}) == parent
    import yaml

    config = yaml.safe_load((branch / ".hydra" / "config.yaml").read_text())
    assert config["run"] == str(trained_run.resolve()) and config["checkpoint"] == "epoch_2"
    assert config["optimizer"]["lr"] == 0.01 and config["trainer"]["epochs"] == 4
    assert config["model"]["hidden_units"] == [32]  # the parent's model, not the defaults
    assert sorted(p.name for p in (branch / "checkpoints").glob("epoch_*")) == ["epoch_3.keras", "epoch_4.keras"]
    assert read_metrics(branch)["epochs_run"] == 4
    history = (branch / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["3", "4"]  # epochs count from 1
    refused = run_main(workdir, f"run={trained_run}", "checkpoint=epoch_2", "model=cnn")
    assert refused.returncode == 2 and "a branch keeps its parent's model" in refused.stderr
    # run=latest names the newest run other than the branch being started
    newest = run_main(workdir, "run=latest", "checkpoint=last", "trainer.epochs=5")
    assert newest.returncode == 0, newest.stderr
    config = yaml.safe_load((max(run_folders(workdir)) / ".hydra" / "config.yaml").read_text())
    assert config["run"] == str(branch.resolve()) and config["checkpoint"] == "last"


@pytest.fixture
def read_only_run(trained_run, tmp_path):
    """A copy of the trained run on a read-only mount (root: a read-only bind mount), or made read-only by its
    permissions (anyone else)."""
    import os
    import subprocess

    source, mount = tmp_path / "source", tmp_path / "shared"
    shutil.copytree(trained_run, source / trained_run.name, symlinks=True)
    mount.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "--bind", str(source), str(mount)], capture_output=True).returncode != 0 or \
                subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
            pytest.skip("cannot make a read-only bind mount here")
        yield mount / trained_run.name
        subprocess.run(["umount", "-l", str(mount)], check=False)
    else:
        shutil.rmtree(mount)
        source.rename(mount)
        for path in [mount, *mount.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
        yield mount / trained_run.name
        for path in [mount, *mount.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)


def test_a_read_only_run_is_evaluated_inferred_and_exported_into_results_dir(workdir, read_only_run, tmp_path):
    before = _fingerprint(read_only_run)
    results = tmp_path / "mine"
    for args, filename in ((["stage=evaluate"], "metrics.json"), (["stage=infer", "input=[" + ",".join(["0"] * 64) + "]"],
                           "predictions.json"), (["stage=export"], "export.json")):
        result = run_main(workdir, f"run={read_only_run}", *args, f"results_dir={results}")
        output = _json_stdout(result)
        assert output["run"] == str(read_only_run) and "output_dir" in output, output
        written = Path(output["output_dir"])
        assert written.parent.parent == results / "read_only_runs" / "mlp" / "digits" / read_only_run.name
        assert (written / filename).is_file() and f"is read-only: this job reads it and writes into {written}" in \
            result.stderr
        assert yaml.safe_load((written / ".hydra" / "config.yaml").read_text())["run"] == str(read_only_run)
    assert _fingerprint(read_only_run) == before
