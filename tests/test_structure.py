"""The package's shape: no import cycles, and the pure modules never reach Ray."""

import ast
import subprocess
import sys

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "parallel_tune"
PURE = ("metrics", "spaces", "report", "placement", "files", "diagnosis")


def imports(module: str) -> set[str]:
    """The package modules ``module`` imports, at any level (inside functions too)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("parallel_tune"):
            base = node.module.split(".")[1] if "." in node.module else None
            names = [base] if base else [a.name for a in node.names]
            found.update(n for n in names if (PACKAGE / f"{n}.py").exists())
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("parallel_tune."))
    return found - {module}


def test_no_import_cycle_at_any_level():
    graph = {p.stem: imports(p.stem) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
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


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_never_reach_ray(module):
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = (PACKAGE / f"{name}.py").read_text()
        assert "import ray" not in source and "from ray" not in source, f"{module} reaches Ray through {name}"
        todo.extend(imports(name))


def test_importing_the_analysis_half_loads_no_ray():
    code = (
        "import sys; import parallel_tune.report, parallel_tune.metrics, parallel_tune.manifest, parallel_tune.plan;"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
