"""Bad input to `python -m data.prepare` and `python -m hpsearch.promote`: exit 2, one `error:` line, nothing left.

The rest of the catalogue of bad input is `tests/test_bad_inputs.py`; these two commands run
in-process (their `main(argv)`), without TensorFlow.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.test_bad_inputs import alias_bomb, fingerprint

PREPARE_CASES = [
    (["nosuch"], "nosuch"),
    (["digits", "--data-dir", "FILE"], "data_dir=FILE is a file, not a folder"),
    (["synthetic", "num_samples=abc"], "dataset.num_samples"),
    (["synthetic", "nosuchkey=1"], "dataset.nosuchkey: unknown key"),
    (["synthetic", "num_samples=0"], "dataset.num_samples=0 is invalid"),
    (["synthetic", "num_samples=100000000000"], "dataset.num_samples"),
    (["synthetic", "input_shape=[]"], "dataset.input_shape"),
    (["digits", "val_fraction=2"], "dataset.val_fraction=2.0 is invalid"),
    (["digits", "num_classes=3"], "dataset.num_classes=3"),
    (["image_folder"], "dataset.path"),
    (["image_folder", "path=/nonexistent/images"], "/nonexistent/images"),
    (["image_folder", "path=EMPTY_DIR"], "EMPTY_DIR"),
    (["digits", "task=ranking"], "dataset.task='ranking' is invalid"),
    (["digits", "=3"], "=3"),
]


def _results(best_params=None, **fields):
    results = {"study_name": "s", "directions": ["maximize"], "best_trial": 0, "best_value": 0.9,
               "best_params": best_params if best_params is not None else {"model.dropout": 0.3}, "best_folder": "0"}
    results.update(fields)
    return yaml.safe_dump(results)


PROMOTE_CASES = [
    ("missing_folder", None, "is not a sweep folder: it has no optimization_results.yaml"),
    ("no_results", {}, "is not a sweep folder: it has no optimization_results.yaml"),
    ("broken_yaml", {"optimization_results.yaml": "best_params: [unclosed"}, "is unreadable"),
    ("not_a_mapping", {"optimization_results.yaml": "- 1\n- 2\n"}, "has no best trial"),
    ("no_best", {"optimization_results.yaml": yaml.safe_dump({"study_name": "s", "directions": ["maximize"]})},
     "has no best trial"),
    ("aliases", {"optimization_results.yaml": alias_bomb()}, "uses YAML aliases"),
    ("huge", {"optimization_results.yaml": "x: " + "y" * (2 << 20)}, "is larger than 1 MB"),
    ("interpolation", {"optimization_results.yaml": _results({"model.dropout": "${oc.env:HOME}"})},
     "holds an interpolation"),
    ("addressing_key", {"optimization_results.yaml": _results({"results_dir": "/tmp/elsewhere"})},
     "best_params key 'results_dir' is not a hyper-parameter"),
    ("hydra_key", {"optimization_results.yaml": _results({"hydra.run.dir": "/tmp/elsewhere"})},
     "best_params key 'hydra.run.dir' is not a hyper-parameter"),
    ("dataset_path", {"optimization_results.yaml": _results({"dataset.path": "/etc"})},
     "best_params key 'dataset.path' is not a hyper-parameter"),
    ("out_of_range", {"optimization_results.yaml": _results({"model.dropout": 7})}, "model.dropout=7.0 is invalid"),
    ("wrong_type", {"optimization_results.yaml": _results({"model.hidden_units": "abc"})}, "do not fit model=mlp"),
    ("unknown_key", {"optimization_results.yaml": _results({"model.nosuch": 1})},
     "best_params key 'model.nosuch' is not in the config"),
    ("not_literal", {"optimization_results.yaml": _results({"model.hidden_units": [{"a": 1}]})},
     "is not a literal value"),
    ("not_searched", {"optimization_results.yaml": _results({"optimizer.lr": 0.1}, searched_keys=["model.dropout"])},
     "holds keys that were not searched: optimizer.lr"),
    ("bad_trial", {"optimization_results.yaml": _results(best_trial="../..")}, "are not as a sweep writes them"),
    ("trial_link", {"optimization_results.yaml": _results(), "0": "LINK"}, "is a symbolic link"),
    ("trial_without_choices", {"optimization_results.yaml": _results(), "0/.hydra/hydra.yaml": "hydra: {}\n"},
     "does not record the run's model and dataset choices"),
    ("choice_escape", {"optimization_results.yaml": _results(),
                       "0/.hydra/hydra.yaml": yaml.safe_dump({"hydra": {"runtime": {"choices": {
                           "model": "../../x", "dataset": "digits"}}}})}, "is not a config option name"),
    ("unknown_model", {"optimization_results.yaml": _results(),
                       "0/.hydra/hydra.yaml": yaml.safe_dump({"hydra": {"runtime": {"choices": {
                           "model": "nosuch", "dataset": "digits"}}}})}, "nosuch"),
]
GOOD_CHOICES = yaml.safe_dump({"hydra": {"runtime": {"choices": {"model": "mlp", "dataset": "digits"}}}})


@pytest.mark.parametrize(("args", "expected"), PREPARE_CASES, ids=[" ".join(a) for a, _ in PREPARE_CASES])
def test_prepare_bad_input(tmp_path, capsys, args, expected):
    from data.prepare import main

    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    data_dir = tmp_path / "data"

    def stand_in(text):
        return text.replace("FILE", str(tmp_path / "a_file")).replace("EMPTY_DIR", str(tmp_path / "empty_dir"))

    argv = [stand_in(a) for a in args]
    if "--data-dir" not in argv:
        argv += ["--data-dir", str(data_dir)]
    before = fingerprint(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and stand_in(expected) in err[0], err
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize(("name", "files", "expected"), PROMOTE_CASES, ids=[c[0] for c in PROMOTE_CASES])
def test_promote_bad_sweep_folder(tmp_path, capsys, monkeypatch, name, files, expected):
    from hpsearch import promote
    from models.base_model import BaseModel

    best_file = tmp_path / "conf" / "best_params" / "mlp_digits.yaml"
    monkeypatch.setattr(BaseModel, "best_config_path", classmethod(lambda cls, dataset: best_file))
    sweep = tmp_path / "sweep"
    outside = tmp_path / "outside"
    outside.mkdir()
    if files is not None:
        sweep.mkdir()
        files = {"0/.hydra/hydra.yaml": GOOD_CHOICES, **files}
        for relative, content in files.items():
            path = sweep / relative
            if content == "LINK":
                for child in sorted(path.rglob("*"), reverse=True):
                    child.unlink() if child.is_file() else child.rmdir()
                path.rmdir()
                path.symlink_to(outside, target_is_directory=True)
                continue
            if relative.startswith("0/") and path.parent.is_symlink():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    before = fingerprint(tmp_path)
    assert promote.main([str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert fingerprint(tmp_path) == before and not best_file.exists()


def test_a_valid_sweep_folder_is_promoted_with_only_its_searched_keys(tmp_path, monkeypatch):
    from hpsearch import promote
    from models.base_model import BaseModel

    best_file = tmp_path / "best.yaml"
    monkeypatch.setattr(BaseModel, "best_config_path", classmethod(lambda cls, dataset: best_file))
    sweep = tmp_path / "sweep"
    (sweep / "0" / ".hydra").mkdir(parents=True)
    (sweep / "0" / ".hydra" / "hydra.yaml").write_text(GOOD_CHOICES)
    params = {"model.dropout": 0.25, "model.hidden_units": [64, 32], "optimizer.lr": 0.003}
    (sweep / "optimization_results.yaml").write_text(_results(params, searched_keys=sorted(params)))
    assert promote.main([str(sweep)]) == 0
    assert yaml.safe_load(best_file.read_text()) == params
    assert json.dumps(sorted(params))  # the keys, exactly
