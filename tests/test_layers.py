"""The project's rooms point down only, and no module imports itself through others.

Layers, top to bottom: main.py -> hydra_plugins -> hpsearch -> runs (stages, run folders) ->
models | data -> conf. Every import counts, also the ones inside functions: a lazy import that
climbs up is still a dependency upward.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT

PACKAGES = ("conf", "models", "data", "runs", "hpsearch", "hydra_plugins")
RANK = {"conf": 0, "models": 1, "data": 1, "runs": 2, "hpsearch": 3, "hydra_plugins": 4, "main": 5}


def project_modules() -> dict[str, Path]:
    modules = {"main": PROJECT_ROOT / "main.py"}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a `from package import name` that names a module
    counts as that module)."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_every_import_points_down():
    upward = []
    for module, targets in import_graph().items():
        room = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if other != room and RANK[other] >= RANK[room]:
                upward.append(f"{module} -> {target}")
            # inside runs/: the run-folder modules sit below the stages that use them
            if room == "runs" and other == "runs" and target.startswith("runs.stages") \
                    and not module.startswith("runs.stages"):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_every_room_says_what_it_holds_and_may_import():
    # hydra_plugins/ is a namespace package (Hydra's rule): its one plugin package speaks for it
    for package in [*PACKAGES[:-1], "hydra_plugins/optuna_sweeper"]:
        docstring = ast.get_docstring(ast.parse((PROJECT_ROOT / package / "__init__.py").read_text()))
        assert docstring and "import" in docstring, f"{package}/__init__.py must say what it holds and may import"
