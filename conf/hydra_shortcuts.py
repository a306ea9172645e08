"""Where `main.py` steps around Hydra's own behaviour: two shortcuts past Hydra internals that cost seconds,
and two rewrites of the command line that Hydra's grammar or `--cfg` would otherwise get wrong.

Each depends on how the pinned hydra-core (requirements.txt) works inside, not on a public API, so
`tests/test_hydra_shortcuts.py` keeps a fingerprint of every Hydra function it replaces or relies on and
fails, naming the shortcut to check again, when an upgrade changes one of them; the behaviour itself is
tested in tests/test_cli_errors.py. Measured savings are in BENCHMARKS.md.

- `skip_hydras_mode_probe`: Hydra composes the whole config once only to read `hydra.mode`
  (`Hydra.get_mode`, called by `hydra._internal.utils._run_hydra`), then again to run: 0.275 s of CPU
  saved on every command ("One composition fewer per command").
- `list_config_groups_only_when_shown`: `Hydra.get_help` lists every config group twice
  (`Hydra.format_config_groups`) before it fills a help template, which this project's does not show:
  3.07 s saved on `--help` ("`--help` without Hydra's listing of every config group").
- `resolvable_cfg_request`: `Hydra.show_cfg` resolves `--cfg hydra` on the `hydra` node alone, where its
  run folder's interpolations cannot reach the keys they are built from.
- `option_names_as_strings`: Hydra's override grammar reads `nan` and `inf` as numbers, so `debug=nan`
  would not choose the `nan` option of the `debug` group.
"""

from __future__ import annotations

import re
from pathlib import Path


def rewritten_arguments(arguments: list[str]) -> list[str]:
    """The command line as Hydra should read it (`resolvable_cfg_request`, `option_names_as_strings`)."""
    return [option_names_as_strings(argument) for argument in resolvable_cfg_request(arguments)]


def skip_hydras_mode_probe(arguments: list[str], conf_dir: Path) -> bool:
    """Spare Hydra a composition of the whole config, about 0.3 s of CPU on every command
    (benchmarks/mode_probe.py), when its result is known; returns whether it was spared.

    Before it runs anything, Hydra composes the config once only to read `hydra.mode` (a config
    file may set MULTIRUN), then composes it again to run. Where neither the command line nor any
    file of `conf/` can set `hydra.mode`, that first composition finds nothing, and Hydra goes on as
    with no setting: a run, or a multirun with `-m`. Anything that might set it (the key, another
    config folder, a search path, a `mode:` in a file that also names `hydra`) leaves Hydra's own probe in
    place; a `mode:` of something else (`logger.wandb.mode`) does not.
    """
    from hydra._internal.hydra import Hydra

    if any(argument.startswith(("-cd", "--config-dir", "-cp", "--config-path")) or "hydra.mode" in argument
           or "searchpath" in argument for argument in arguments):
        return False
    for path in conf_dir.rglob("*.yaml"):
        text = path.read_text(errors="replace")
        if re.search(r"hydra\.mode|searchpath", text) or (  # a `mode:` of Hydra's: under `hydra:`, or packaged there
                re.search(r"^\s*mode\s*:", text, re.MULTILINE)
                and re.search(r"^\s*hydra\s*:|@package\s+hydra\b", text, re.MULTILINE)):
            return False
    Hydra.get_mode = lambda self, config_name, overrides: None  # what it returns when nothing sets the mode
    return True


class _Deferred:
    """A string computed when it is turned into one (`string.Template` does that to what it fills in)."""

    def __init__(self, compute) -> None:
        self.compute = compute

    def __str__(self) -> str:
        return self.compute()


def list_config_groups_only_when_shown() -> None:
    """`--help` without Hydra's walk of every config group, 3 s of CPU: Hydra lists them all, twice,
    for `$APP_CONFIG_GROUPS` and `$HYDRA_CONFIG_GROUPS` before it fills the help template, and this
    project's template (conf/hydra/help/project.yaml) uses neither. The lists are now made only if a
    template shows them."""
    from hydra._internal.hydra import Hydra

    listing = Hydra.format_config_groups
    if getattr(listing, "deferred", False):
        return

    def deferred(self, predicate, compact=True):
        return _Deferred(lambda: listing(self, predicate, compact))

    deferred.deferred = True
    Hydra.format_config_groups = deferred


def option_names_as_strings(argument: str) -> str:
    """`debug=nan` as `debug='nan'`: Hydra's grammar reads nan and inf as numbers, and a config group
    (a key without a dot) is chosen by name."""
    match = re.fullmatch(r"(\+{0,2}[A-Za-z_][\w/]*)=(nan|inf)", argument, flags=re.IGNORECASE)
    return f"{match.group(1)}='{match.group(2)}'" if match else argument


def resolvable_cfg_request(arguments: list[str]) -> list[str]:
    """`--cfg hydra --resolve` as `--cfg all --package hydra --resolve`.

    Hydra resolves `--cfg hydra` on a copy of the `hydra` node alone, where `hydra.run.dir` cannot
    reach the run's keys it is built from (`stage.name`, `results_dir`, ...); the whole config
    narrowed to the same package prints the same node, resolved.
    """
    for flag in ("--cfg", "-c"):
        if flag in arguments[:-1] and arguments[arguments.index(flag) + 1] == "hydra" and (
                "--resolve" in arguments) and not {"--package", "-p"} & set(arguments):
            position = arguments.index(flag) + 1
            return [*arguments[:position], "all", "--package", "hydra", *arguments[position + 1:]]
    return arguments
