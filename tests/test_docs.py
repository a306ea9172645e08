"""The commands the README and `docs/` show cannot drift from what the project does.

Every fenced `bash` block, and every `text` block that shows `$ command` lines, carries a marker on the
line before it saying how the test treats it:

    <!-- commands: quick -->         run here, in a scratch copy of the project, in the page's order: each
                                     command exits 0 (or 2 where its comment says "exit 2"); a `$ command`
                                     of a text block prints exactly the `error:` lines shown, with exit 2
    <!-- commands: long -->          trains long, or needs a run or data that a scratch copy lacks
    <!-- commands: network -->       needs a download
    <!-- commands: other -->         another program's commands (pip, tensorboard, mkdocs, ...)
    <!-- commands: illustration -->  output of a model the page imagines; not run

The commands that are not run are still read: each `python main.py` line is parsed by Hydra's override
parser and composed and checked against the schemas in-process (what `--cfg job` would do), a
`python -m data.prepare <dataset> key=value` line as that dataset's config, and a `python -m <module>`
names a module that exists; so a renamed key or option fails here. `<placeholders>` (`<run>`) are read as
plain words. Also: the config groups' table of the configuration page lists exactly the options in
`conf/`, and the model and dataset examples of the README are the docs' (and are what
`tests/test_main_e2e.py` drops into a copy of the project).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Glob

from omegaconf import open_dict

from conf.errors import UserError
from conf.hydra_shortcuts import rewritten_arguments
from conf.schema import validate_config
from tests.conftest import PROJECT_ROOT, run_main

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
KINDS = ("quick", "long", "network", "other", "illustration")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
MARKER = re.compile(r"<!-- commands: (\w+) -->\n$")
PLACEHOLDER = re.compile(r"<([A-Za-z_ ]+)>")
OTHER_PROGRAMS = {"pip", "python3", "source", "tensorboard", "mlflow", "optuna-dashboard", "optuna", "mkdocs",
                  "pytest", "jq", "kill", "squeue", "sacct", "scancel"}


def command_blocks(page: Path) -> list[tuple[str | None, str, str, int]]:
    """(marker kind or None, language, body, line number) of each block of commands of a page."""
    text = page.read_text()
    found = []
    for fence in FENCE.finditer(text):
        language, body = fence.group(1), fence.group(2)
        if language != "bash" and not (language == "text" and body.startswith("$ ")):
            continue
        marker = MARKER.search(text[:fence.start()])
        line = text.count("\n", 0, fence.start()) + 1
        found.append((marker.group(1) if marker else None, language, body, line))
    return found


def commands(language: str, body: str) -> list[tuple[str, list[str]]]:
    """(command, the lines it shows after it) of a block: a bash block's lines (comments dropped, `a && b`
    as two commands), a text block's `$ ` lines with their output."""
    found: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if language == "text":
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
            continue
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            found.append((shlex.join(words[:cut]), [line]))
            words = words[cut + 1:]
    return found


def expected_status(language: str, shown: list[str]) -> int:
    """What the page says a command exits with: 2 where it shows an `error:` line or says "exit 2"."""
    if language == "text":
        return 2 if any(text.startswith("error:") for text in shown) else 0
    return 2 if "exit 2" in shown[0] else 0


def all_commands(kinds: tuple[str, ...]):
    """Every command of those kinds of blocks that the page says succeeds."""
    for page in PAGES:
        for kind, language, body, line in command_blocks(page):
            if kind in kinds:
                for command, shown in commands(language, body):
                    if expected_status(language, shown) == 0:
                        yield pytest.param(command, id=f"{page.name}:{line}:{command[:60]}")


def test_every_block_of_commands_says_how_it_is_checked():
    unmarked = [f"{page.relative_to(PROJECT_ROOT)}:{line}" for page in PAGES
                for kind, _, _, line in command_blocks(page) if kind not in KINDS]
    assert unmarked == [], f"blocks without <!-- commands: {'|'.join(KINDS)} --> before them: {unmarked}"
    assert sum(1 for page in PAGES for block in command_blocks(page) if block[0] == "quick") >= 6


def compose_line(arguments: list[str]) -> None:
    """Compose and check `python main.py arguments` in-process; a sweep's values each checked as a run's."""
    arguments = [PLACEHOLDER.sub(lambda match: "PLACEHOLDER_" + match.group(1).replace(" ", "_"), argument)
                 for argument in rewritten_arguments(arguments)]
    arguments = [argument for argument, before in zip(arguments, ["", *arguments])
                 if not argument.startswith("-") and before not in ("--cfg", "-c", "--package", "-p")]
    overrides = OverridesParser.create().parse_overrides(arguments)
    plain, sweeps = [], []
    for override, text in zip(overrides, arguments):
        (sweeps if override.is_sweep_override() else plain).append((override, text))
    runs = [[text for _, text in plain]]
    for override, _ in sweeps:  # each value of a choice becomes a run of its own; an interval checks its key
        value = override.value()
        if isinstance(value, ChoiceSweep):
            runs = [run + [f"{override.get_key_element()}={item}"] for run in runs for item in value.list]
        elif isinstance(value, Glob) or override.is_hydra_override():
            continue
        else:
            runs = [run + [f"{override.get_key_element()}={_low(override)}"] for run in runs]
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        for run in runs:
            cfg = compose("config", overrides=run, return_hydra_config=any(a.startswith("hydra") for a in run))
            if "hydra" in cfg:
                with open_dict(cfg):
                    del cfg["hydra"]
            validate_config(cfg)


def _low(override) -> str:
    """The lower end of a range or an interval sweep, as a value of the key."""
    value = override.value()
    start = getattr(value, "start", None)
    if start is None:
        raise AssertionError(f"cannot check the sweep {override.input_line}")
    return str(int(start) if isinstance(start, float) and start.is_integer() and "interval" not in
               override.input_line else start)


def checked(compose_line, arguments: list[str]) -> None:
    """Compose and check; a run folder or data that is not here (a placeholder, a dataset to download
    first: the error names the command that gets it) is the only refusal accepted."""
    try:
        compose_line(arguments)
    except UserError as error:
        if not any(reason in str(error) for reason in ("PLACEHOLDER", "does not exist", "data.prepare")):
            raise


@pytest.mark.parametrize("command", list(all_commands(("long", "network", "other", "quick"))))
def test_each_command_names_keys_options_and_modules_that_exist(command):
    words = shlex.split(command)
    if words[:2] == ["python", "main.py"]:
        checked(compose_line, words[2:])
    elif words[:3] == ["python", "-m", "data.prepare"] and len(words) > 3 and not words[3].startswith("-"):
        checked(compose_line, [f"dataset={words[3]}", *(f"dataset.{argument}" for argument in words[4:])])
    elif words[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(words[2]) is not None, f"no module {words[2]}"
    elif words[:2] == ["python", "-c"]:
        compile(words[2], "<command>", "exec")
    else:
        assert words[0] in OTHER_PROGRAMS, f"an unknown program: {command}"


@pytest.fixture(scope="module")
def project(tmp_path_factory, digits_data) -> Path:
    """A scratch copy of the project with the digits prepared, where the quick commands run as written."""
    copy = tmp_path_factory.mktemp("docs") / "project"
    shutil.copytree(PROJECT_ROOT, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv", "results", "tests", "__pycache__", "benchmarks", "site", "digits", "synthetic*",
        "downloads"))
    shutil.copytree(digits_data, copy / "data", dirs_exist_ok=True)
    return copy


def run_as_shown(project: Path, command: str):
    words = shlex.split(command)
    if words[:2] == ["python", "main.py"]:
        return run_main(project, *words[2:], main=project / "main.py")
    assert words[0] == "python", f"a quick command that is not python's: {command}"
    return subprocess.run([sys.executable, *words[1:]], cwd=project, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("page", [page for page in PAGES if any(b[0] == "quick" for b in command_blocks(page))],
                         ids=lambda page: page.name)
def test_quick_commands_run_as_the_page_shows(project, page):
    for kind, language, body, line in command_blocks(page):
        if kind != "quick":
            continue
        for command, shown in commands(language, body):
            result = run_as_shown(project, command)
            where = f"{page.name}:{line}: {command}"
            expected = expected_status(language, shown)
            assert result.returncode == expected, (where, result.stderr[-2000:])
            if expected == 2:
                lines = result.stderr.strip().splitlines()
                errors = [text for text in shown if text.startswith("error:")]
                assert lines == errors if errors else len(lines) == 1 and lines[0].startswith("error: "), (where, lines)


def test_the_config_groups_table_lists_the_options_in_conf():
    page = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    for row in re.finditer(r"^\| `(\w+)` \| ((?:`\w+`(?:, )?)+) \|", page, re.M):
        group, listed = row.group(1), re.findall(r"`(\w+)`", row.group(2))
        options = sorted(path.stem for path in (PROJECT_ROOT / "conf" / group).glob("*.yaml"))
        assert sorted(listed) == options, f"docs/configuration.md lists {group}: {listed}; conf/{group}/ has {options}"


def python_block_after(text: str, phrase: str) -> str:
    start = text.index("```python\n", text.index(phrase)) + len("```python\n")
    return text[start:text.index("```\n", start)]


@pytest.mark.parametrize("example, page", [("`models/logistic.py`", "models.md"), ("`data/datasets/moons.py`", "data.md")])
def test_the_readme_examples_are_the_docs(example, page):
    readme = (PROJECT_ROOT / "README.md").read_text()
    docs = (PROJECT_ROOT / "docs" / page).read_text()
    assert python_block_after(readme, example) == python_block_after(docs, example)
