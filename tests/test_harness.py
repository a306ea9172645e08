"""The test harness's own promises (README, Tests): a spread `xdist_group` fails, saying why; a script forked
from the test server `warnings_as_errors` fails on any warning, as under `python -W error`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import pytest_runtest_setup, run_script


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


WARNS = """import sys, warnings
category = DeprecationWarning if sys.argv[1] == "deprecation" else UserWarning
warnings.warn_explicit("from a library", category, "library.py", 1, module="library")
print("went on")
"""


@pytest.mark.parametrize("category", ["user", "deprecation"])
def test_a_forked_script_with_warnings_as_errors_fails_on_a_warning_as_python_w_error_does(tmp_path, category):
    """A DeprecationWarning too, which Python's default filters ignore outside `__main__`; and only with the flag."""
    script = tmp_path / "warns.py"
    script.write_text(WARNS)
    failed = run_script(tmp_path, script, category, env={}, warnings_as_errors=True)
    assert failed.returncode == 1 and "went on" not in failed.stdout, failed.stderr
    assert f"{'Deprecation' if category == 'deprecation' else 'User'}Warning: from a library" in failed.stderr
    passed = run_script(tmp_path, script, category, env={})
    assert passed.returncode == 0 and "went on" in passed.stdout, passed.stderr
