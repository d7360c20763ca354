"""The import graph of `visempar/` flows one way: every import, deferred ones included,
goes to the same layer or a lower one, and no modules import each other in a circle."""

import ast
from pathlib import Path

import visempar

PACKAGE = Path(visempar.__file__).parent
# lowest first; a module may import its own layer and the ones before it
LAYERS = [
    ["visempar.errors", "visempar.quiet", "visempar.reports", "visempar.locks"],
    ["visempar.amr"],
    ["visempar.data"],
    ["visempar.passes"],
    ["visempar.config"],
    ["visempar.scoring"],
    ["visempar.combine"],
    ["visempar.report"],
    ["visempar.model"],
    ["visempar.infer"],
    ["visempar.train"],
    ["visempar.preflight"],
    # the Python API, the package that exposes it lazily, and the GPU proof that uses everything
    ["visempar", "visempar.api", "visempar.gpu_check"],
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


def _imported(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found


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


MODEL_LIBRARIES = {"torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate"}


def test_scoring_and_combining_never_import_a_model_library():
    """`visempar.scoring`, `visempar.combine`, `visempar.passes` and `visempar.report`, and
    every visempar module they reach, import no model library, deferred imports included:
    scoring, repair and the report page never load torch."""
    graph = imports()
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    todo = [m for m in graph if m.startswith(("visempar.scoring", "visempar.combine", "visempar.passes",
                                              "visempar.report"))]
    reached: set[str] = set()
    while todo:
        m = todo.pop()
        if m not in reached:
            reached.add(m)
            todo.extend(graph[m])
    found = {m: sorted(_imported(modules[m]) & MODEL_LIBRARIES) for m in sorted(reached)}
    assert {m: libs for m, libs in found.items() if libs} == {}
    assert "visempar.scoring.smatch" in reached and "visempar.amr.io" in reached


def test_scoring_a_file_loads_no_model_library(tmp_path):
    import subprocess
    import sys

    from visempar.data.corpus import sample_path

    gold = sample_path("test")
    code = ("import sys; from visempar.scoring.files import score_files; "
            f"r, _ = score_files({str(gold)!r}, {str(gold)!r}, workers=1); "
            "print(r.f1, sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{sorted(MODEL_LIBRARIES)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    f1, loaded = out.stdout.split(" ", 1)
    assert float(f1) == 1.0 and loaded.strip() == "[]"
