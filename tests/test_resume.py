"""A run killed at any moment resumes into exactly the run it would have been: metrics, history, TensorBoard.

The test SIGKILLs a training job at one moment (tests/faults.py), resumes it with `run=<folder>`
and kills the resumed job at the next moment, and so on down the chain of every moment; the last
resume runs to the end. The result is compared with an uninterrupted run of the same config: `metrics.json`
(all but timings), `history.csv` byte for byte, every TensorBoard scalar series point for point,
the kept checkpoints, and no temporary file left anywhere in the run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from runs.epoch_records import TEMPORARY
from tests.conftest import run_main

# streamed from the shards, shuffled in windows, augmented, old checkpoints pruned: the hardest way to train
ARGS = ["trainer.epochs=3", "model.hidden_units=[16]", "seed=11", "dataset.cache=none", "dataset.shuffle_window=300",
        "dataset.augment=[{name:translate,factor:0.1}]", "trainer.keep_checkpoints=1"]
# The chain kills one run at each of these points in turn, resuming it between kills; every point is
# reached again by the resumed run (the kills before `committed` all happen before epoch 2 is committed).
CHAIN = [("batch", 1), ("batch", 2), ("validated", 2), ("tensorboard", 2), ("history_half", 2),
         ("checkpoint_half", 2), ("checkpoint_whole", 2), ("checkpointed", 2), ("state_half", 2), ("committed", 2),
         ("evaluating", 0)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, digits_data):
    work = tmp_path_factory.mktemp("resume")
    shutil.copytree(digits_data, work / "data")
    return work


@pytest.fixture(scope="module")
def uninterrupted(workdir) -> Path:
    result = run_main(workdir, *ARGS, "results_dir=uninterrupted")
    assert result.returncode == 0, result.stderr
    [run] = (workdir / "uninterrupted" / "mlp" / "digits").iterdir()
    return run


def scalar_series(run: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every TensorBoard scalar point of the run, by (folder, tag), in step order."""
    import tensorflow as tf

    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for folder in ("train", "validation"):
        for path in sorted((run / folder).glob("events.out.tfevents.*")):
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for value in event.summary.value:
                    series.setdefault((folder, value.tag), []).append(
                        (event.step, float(tf.make_ndarray(value.tensor))))
    return {key: sorted(points) for key, points in series.items()}


def comparable_metrics(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["wall_time_s"], metrics["fit_time_s"]
    return metrics


def test_a_run_killed_at_every_moment_resumes_to_the_uninterrupted_run(workdir, uninterrupted):
    results, run = "killed", None
    for point, epoch in CHAIN:
        start = ARGS if run is None else [f"run={run}"]  # the first kill hits a new run, the others its resumes
        killed = run_main(workdir, *start, f"results_dir={results}", fault={"point": point, "epoch": epoch})
        assert killed.returncode == -9, (point, killed.stderr)
        [run] = (workdir / results / "mlp" / "digits").iterdir()
        assert not (run / "metrics.json").exists(), point

    resumed = run_main(workdir, f"run={run}", f"results_dir={results}")
    assert resumed.returncode == 0, resumed.stderr
    assert comparable_metrics(run) == comparable_metrics(uninterrupted)
    assert (run / "history.csv").read_text() == (uninterrupted / "history.csv").read_text()
    expected = scalar_series(uninterrupted)
    assert scalar_series(run) == expected
    assert [point[0] for point in expected[("train", "epoch_loss")]] == [1, 2, 3]  # epochs count from 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == \
        sorted(p.name for p in (uninterrupted / "checkpoints").iterdir())
    assert not [p for p in run.rglob("*") if TEMPORARY.match(p.name)]
    history_epochs = [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert history_epochs == ["1", "2", "3"]
    # a resume continues the run as configured; a change is a branch
    again = run_main(workdir, f"run={run}", f"results_dir={results}", "trainer.epochs=5")
    assert again.returncode == 2 and "branch a new run instead" in again.stderr


@pytest.mark.parametrize("point", ["started", "unrecorded"])
def test_a_run_killed_before_it_recorded_itself_starts_again_in_place(workdir, uninterrupted, point, capsys):
    """Killed as it starts, or just before `run.json` (its `.hydra/config.yaml` still Hydra's, with
    interpolations): `runs list` shows it interrupted, `run=latest` passes it over, and `run=<folder>`
    starts it again in place from its recorded overrides, into the uninterrupted run."""
    from runs.__main__ import main as runs_main

    results = f"early_{point}"
    killed = run_main(workdir, *ARGS, f"results_dir={results}", fault={"point": point})
    assert killed.returncode == -9, killed.stderr
    [run] = (workdir / results / "mlp" / "digits").iterdir()
    assert not (run / "run.json").exists()
    saved = run / ".hydra" / "config.yaml"  # as Hydra leaves it for a run on the default folders (`run_main`
    saved.write_text(re.sub(r"(?m)^data_dir: .*$", "data_dir: ${project_dir:data}", saved.read_text()))  # gives them)
    assert runs_main(["--results-dir", str(workdir / results), "list", "--format", "csv"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and ",interrupted," in listed[1], listed
    latest = run_main(workdir, "run=latest", f"results_dir={results}")
    assert latest.returncode == 2 and "finished or holds a checkpoint" in latest.stderr
    changed = run_main(workdir, f"run={run}", f"results_dir={results}", "trainer.epochs=5")
    assert changed.returncode == 2 and "starts again as it was configured, so trainer.epochs=5" in changed.stderr
    resumed = run_main(workdir, f"run={run}", f"results_dir={results}")
    assert resumed.returncode == 0, resumed.stderr
    assert comparable_metrics(run) == comparable_metrics(uninterrupted)
    assert (run / "history.csv").read_text() == (uninterrupted / "history.csv").read_text()
    assert "${" not in (run / ".hydra" / "config.yaml").read_text() and (run / "run.json").is_file()


def test_recorded_overrides_of_an_unrecorded_run_are_untrusted_data(workdir, tmp_path):
    killed = run_main(workdir, *ARGS, f"results_dir={tmp_path / 'r'}", fault={"point": "started"})
    assert killed.returncode == -9, killed.stderr
    [run] = (tmp_path / "r" / "mlp" / "digits").iterdir()
    overrides = run / ".hydra" / "overrides.yaml"
    for content, expected in (("- model.hidden_units=${oc.env:HOME}\n", "holds an interpolation"),
                              ("- 'model.dropout=choice(0.1,0.2)'\n", "is not a plain key=value of a run"),
                              ("{a: 1}\n", "is not a list of key=value overrides"),
                              ("- model.dropout=7\n", "model.dropout=7.0 is invalid"),
                              ("- trial.storage=sqlite:////tmp/elsewhere.db\n", "is not a plain key=value"),
                              ("- hydra/launcher=joblib\n", "is not a plain key=value"),
                              ("- best=true\n", "is not a plain key=value"),
                              ("- logger.mlflow.tracking_uri=http://example.com\n", "is not a plain key=value")):
        overrides.write_text(content)
        result = run_main(workdir, f"run={run}", f"results_dir={tmp_path / 'r'}")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and expected in lines[-1] and str(overrides) in lines[-1], (content, lines)
        assert not (run / "run.json").exists()
