"""The test harness's own promises (README, Tests): a spread `xdist_group` fails, saying why."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import pytest_runtest_setup


def _item(nodeid: str, loadgroup: bool = True, grouped: bool = True):
    return SimpleNamespace(nodeid=nodeid, config=SimpleNamespace(option=SimpleNamespace(loadgroup=loadgroup)),
                           get_closest_marker=lambda name: object() if grouped and name == "xdist_group" else None)


def test_a_grouped_test_that_xdist_did_not_keep_together_fails_saying_why():
    with pytest.raises(pytest.fail.Exception, match=r"pytest-xdist#1386.*requirements.txt pins"):
        pytest_runtest_setup(_item("tests/test_stages_e2e.py::test_branch"))
    with pytest.raises(pytest.fail.Exception):  # an '@' inside a parameter is not a group
        pytest_runtest_setup(_item("tests/test_stages_e2e.py::test_infer[a@b]"))
    pytest_runtest_setup(_item("tests/test_stages_e2e.py::test_branch@stages_e2e"))
    pytest_runtest_setup(_item("tests/test_stages_e2e.py::test_infer[a]@stages_e2e"))
    pytest_runtest_setup(_item("tests/test_models.py::test_fit", grouped=False))
    pytest_runtest_setup(_item("tests/test_stages_e2e.py::test_branch", loadgroup=False))  # -n 0: nothing to keep
