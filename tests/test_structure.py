"""The package's shape: the commands on top, two wings that never import each other, a ground floor below both.

Imports are read from the source (inside functions too), so a lazy import
counts as much as one at the top of a module.
"""

import ast
import subprocess
import sys

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "parallel_tune"
COMMANDS = {"sweep", "analyze", "compare", "ceiling"}
WINGS = ("run", "analysis")
GROUND = "core"


def modules() -> dict[str, object]:
    """Every module of the package by dotted name (``parallel_tune.run.plan``); a package by its ``__init__``."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = modules()


def imports(name: str) -> set[str]:
    """The package modules ``name`` imports, at any level but ``if TYPE_CHECKING:``; ``from a import b`` counts
    ``a.b`` where it is a module."""
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):  # imports for type checkers only load nothing
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("parallel_tune"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("parallel_tune"))
    return {m for m in found if m in MODULES} - {name, "parallel_tune"}


def floor(name: str) -> str:
    """'command', 'run', 'analysis' or 'core': where a module lives."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or parts[-1] in (*WINGS, GROUND) else "command"


def test_the_folders_are_the_architecture():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}  # __main__: `parallel-tune COMMAND`
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top == COMMANDS, "only the commands users run lie at the top"
    assert folders == {*WINGS, GROUND}
    for command in COMMANDS:
        source = MODULES[f"parallel_tune.{command}"].read_text()
        assert "def main(argv" in source and 'if __name__ == "__main__":' in source, command


@pytest.mark.parametrize("wing, other", [("run", "analysis"), ("analysis", "run")])
def test_the_two_wings_never_import_each_other(wing, other):
    crossing = {(m, i) for m in MODULES if floor(m) == wing for i in imports(m) if floor(i) == other}
    assert not crossing, crossing


def test_the_ground_floor_imports_nothing_above_it():
    above = {(m, i) for m in MODULES if floor(m) == GROUND for i in imports(m) if floor(i) != GROUND}
    assert not above, above


def test_no_wing_imports_a_command():
    up = {(m, i) for m in MODULES if floor(m) != "command" for i in imports(m) if floor(i) == "command"}
    assert not up, up


def test_no_import_cycle_at_any_level():
    graph = {m: imports(m) for m in MODULES}
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def reaches_ray(name: str) -> str | None:
    """The module through which ``name`` imports Ray, at any depth; None if it never does."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source = MODULES[current].read_text()
        if "import ray" in source or "from ray" in source:
            return current
        todo.extend(imports(current))
    return None


#: The loader reads a Tune directory through Ray's own ExperimentAnalysis, and nothing else of the wing may.
PURE = sorted(m for m in MODULES if floor(m) in ("analysis", GROUND) and m != "parallel_tune.analysis.load")


@pytest.mark.parametrize("module", [*PURE, "parallel_tune.run.placement"])
def test_the_ground_floor_and_the_analysis_never_reach_ray(module):
    assert reaches_ray(module) is None, f"{module} reaches Ray through {reaches_ray(module)}"


def test_importing_the_analysis_wing_loads_no_ray():
    code = (
        "import sys; import parallel_tune.analysis.report, parallel_tune.analysis.dashboard, "
        "parallel_tune.analysis.findings, parallel_tune.analysis.load, parallel_tune.core.record, "
        "parallel_tune.run.plan; print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_module_has_a_test_module_named_for_it():
    tests = {
        p.relative_to(ROOT / "tests").with_name(p.stem.removeprefix("test_"))
        for p in (ROOT / "tests").rglob("test_*.py")
    }
    wanted = {
        MODULES[m].relative_to(PACKAGE).with_name(MODULES[m].stem.strip("_"))  # __main__ is tested in test_main.py
        for m in MODULES
        if MODULES[m].stem != "__init__"
    }
    assert sorted(map(str, wanted - {t for t in tests})) == []
