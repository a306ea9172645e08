"""The guard of conf/hydra_shortcuts.py: each shortcut relies on how one of Hydra's internal functions works
in the pinned hydra-core, so a fingerprint of each function's source is kept here. An upgrade that changes
one fails this test with the shortcut to check again, instead of silently breaking `--help`, the mode probe
or `--cfg hydra --resolve`. What each shortcut does is tested in tests/test_cli_errors.py."""

from __future__ import annotations

import hashlib
import inspect
import math

import pytest

# (Hydra's function, the shortcut that replaces it or relies on it, sha256 of its source in hydra-core 1.3.8)
GUARDED = [
    ("hydra._internal.hydra.Hydra.get_mode", "skip_hydras_mode_probe (replaces it: None when nothing sets the mode)",
     "47ab05c3c05b1c64"),
    ("hydra._internal.utils._run_hydra", "skip_hydras_mode_probe (its caller: None means a run, or -m a multirun)",
     "8442d5abfa70fc1d"),
    ("hydra._internal.hydra.Hydra.format_config_groups", "list_config_groups_only_when_shown (replaces it)",
     "76528ac7ebbcfc9e"),
    ("hydra._internal.hydra.Hydra.get_help", "list_config_groups_only_when_shown (fills the template with its lists)",
     "e6f95066c04de908"),
    ("hydra._internal.hydra.Hydra.show_cfg", "resolvable_cfg_request (resolves --cfg hydra on that node alone)",
     "e9e0a35638e96167"),
]


def _function(path: str):
    import importlib

    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(path)


@pytest.mark.parametrize(("path", "shortcut", "fingerprint"), GUARDED, ids=[path for path, _, _ in GUARDED])
def test_the_hydra_internals_a_shortcut_relies_on_are_unchanged(path, shortcut, fingerprint):
    import hydra

    function = _function(path)
    deferred = getattr(function, "deferred", False)  # a shortcut already applied in this process: Hydra's own
    source = inspect.getsource(inspect.getclosurevars(function).nonlocals["listing"] if deferred else function)
    found = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert found == fingerprint, (
        f"hydra-core {hydra.__version__} changed {path}: check conf/hydra_shortcuts.py's {shortcut} against its new "
        f"source, then record its fingerprint {found} here")


def test_hydras_grammar_still_reads_nan_as_a_number():
    """option_names_as_strings exists because `debug=nan` is the number NaN to Hydra, not the option `nan`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from conf.hydra_shortcuts import option_names_as_strings

    parsed = OverridesParser.create().parse_override("debug=nan").value()
    assert isinstance(parsed, float) and math.isnan(parsed)
    assert OverridesParser.create().parse_override(option_names_as_strings("debug=nan")).value() == "nan"
    assert option_names_as_strings("optimizer.lr=nan") == "optimizer.lr=nan"  # a value, not a group: as it is


def test_the_cfg_request_is_rewritten_only_where_hydra_would_miss_the_run_keys():
    from conf.hydra_shortcuts import resolvable_cfg_request

    assert resolvable_cfg_request(["--cfg", "hydra", "--resolve"]) == ["--cfg", "all", "--package", "hydra",
                                                                        "--resolve"]
    for unchanged in (["--cfg", "hydra"], ["--cfg", "job", "--resolve"], ["--cfg", "hydra", "--resolve", "-p", "x"]):
        assert resolvable_cfg_request(unchanged) == unchanged


def test_listing_the_plugins_does_not_import_optuna():
    """Hydra imports every plugin module on each command to list them: the sweeper's plugin module imports
    Optuna (0.2 s) only when a sweep creates the sweeper, which is then `hpsearch.sweeper`'s class."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\n"
            "from hydra.core.plugins import Plugins\n"
            "from hydra.plugins.sweeper import Sweeper\n"
            "found = [c for c in Plugins.instance().discover(Sweeper)\n"
            "         if c.__module__.startswith('hydra_plugins.optuna')]\n"
            "print('optuna' in sys.modules, [f'{c.__module__}.{c.__name__}' for c in found])\n"
            "from omegaconf import OmegaConf\n"
            "made = Plugins.instance()._instantiate(OmegaConf.create({'_target_': "
            "'hydra_plugins.optuna_sweeper.optuna_sweeper.OptunaSweeper', 'sampler': None, 'pruner': None}))\n"
            "print(type(made).__module__, 'optuna' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.splitlines() == [
        "False ['hydra_plugins.optuna_sweeper.optuna_sweeper.OptunaSweeper']", "hpsearch.sweeper True"]
