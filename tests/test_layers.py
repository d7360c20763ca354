"""The import graph of `visempar/` flows one way: every import, deferred ones included,
goes to the same layer or a lower one, and no modules import each other in a circle."""

import ast
from pathlib import Path

import visempar

PACKAGE = Path(visempar.__file__).parent
# lowest first; a module may import its own layer and the ones before it
LAYERS = [
    ["visempar.errors", "visempar.quiet", "visempar.reports"],
    ["visempar.amr"],
    ["visempar.data"],
    ["visempar.config"],
    ["visempar.model"],
    ["visempar.eval"],
    ["visempar.train"],
    ["visempar.preflight"],
    ["visempar", "visempar.api"],  # the Python API, and the package that exposes it lazily
    ["visempar.cli", "visempar.__main__"],
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    best = None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (i, len(prefix))
    assert best is not None, f"{module} is in no layer"
    return best[0]


def imports() -> dict[str, set[str]]:
    """Every visempar module and the visempar modules it imports, anywhere in its body."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("visempar"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("visempar"))
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_every_import_runs_down_or_sideways():
    upward = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
              for a, targets in imports().items() for b in targets if layer(b) > layer(a)]
    assert upward == []


def test_no_circles():
    graph = imports()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
