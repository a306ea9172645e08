"""How stage=infer reads its input: inline JSON, files, stdin, and the shape checks."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from conf.errors import UserError
from runs.stages.infer import as_batch, read_input

SHAPE = (8, 8, 1)


def test_inline_list_arrives_from_hydra_as_a_list_config():
    assert read_input(OmegaConf.create({"input": [[1, 2]]}).input) == [[1, 2]]
    assert read_input("[[1, 2]]") == [[1, 2]]  # a quoted JSON string


def test_files_of_each_format(tmp_path):
    data = np.arange(128).reshape(2, 64)
    np.save(tmp_path / "x.npy", data)
    (tmp_path / "x.json").write_text(json.dumps(data.tolist()))
    np.savetxt(tmp_path / "x.csv", data, delimiter=",")
    for name in ("x.npy", "x.json", "x.csv"):
        batch = as_batch(read_input(str(tmp_path / name)), SHAPE)
        assert batch.shape == (2, 8, 8, 1)
        np.testing.assert_array_equal(batch.reshape(2, 64), data)


def test_stdin_takes_json_or_csv(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("[[1, 2], [3, 4]]"))
    assert read_input("-") == [[1, 2], [3, 4]]
    monkeypatch.setattr("sys.stdin", io.StringIO("1,2\n3,4\n"))
    np.testing.assert_array_equal(read_input("-"), [[1, 2], [3, 4]])
    monkeypatch.setattr("sys.stdin", io.StringIO("one, two"))
    with pytest.raises(UserError, match="neither JSON nor comma-separated numbers"):
        read_input("-")


def test_single_elements_and_batches_in_every_accepted_shape():
    assert as_batch(np.zeros(SHAPE), SHAPE).shape == (1, 8, 8, 1)
    assert as_batch(np.zeros(64), SHAPE).shape == (1, 8, 8, 1)
    assert as_batch(np.zeros((8, 8)), SHAPE).shape == (1, 8, 8, 1)
    assert as_batch(np.zeros((3, 64)), SHAPE).shape == (3, 8, 8, 1)
    assert as_batch(np.zeros((3, 8, 8)), SHAPE).shape == (3, 8, 8, 1)


def test_unreadable_files_are_user_errors(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe[1]")
    with pytest.raises(UserError, match="is not a readable .npy file"):
        read_input(str(tmp_path / "empty.npy"))
    with pytest.raises(UserError, match="is not a readable .json file"):
        read_input(str(tmp_path / "latin.json"))


@pytest.mark.parametrize(("value", "expected"), [
    (None, "stage=infer needs input="),
    ("missing.npy", "input=missing.npy: no such file"),
    ("hello", "input='hello' is not a JSON list nor a .npy/.json/.csv file"),
])
def test_unreadable_input(value, expected):
    with pytest.raises(UserError, match=expected):
        read_input(value)


@pytest.mark.parametrize(("data", "expected"), [
    ([1, 2, 3], r"input has shape \[3\]; the model takes elements of shape \[8, 8, 1\] \(or 64 values each\)"),
    ([[1] * 63], r"input has shape \[1, 63\]"),
    ([["a"] * 64], "input must hold numbers only"),
    ([[1, 2], [3]], "input must hold numbers only, in a regular nested list"),
    ([], "input is empty"),
    ([float("nan")] * 64, "NaN or infinite"),
])
def test_bad_input_names_the_expected_shape(data, expected):
    with pytest.raises(UserError, match=expected):
        as_batch(data, SHAPE)
