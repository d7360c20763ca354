"""Rules that keep the code readable as it grows (`scripts/test.sh` also runs ruff and mypy)."""

import ast
from collections import defaultdict
from pathlib import Path

import visempar

PACKAGE = Path(visempar.__file__).parent
MAX_FUNCTION_LINES = 80


def _trees():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE.parent), ast.parse(path.read_text(encoding="utf-8"))


def test_no_function_is_longer_than_80_lines():
    long = [f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, tree in _trees() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_no_public_name_is_defined_twice_outside_the_cli():
    """One place for each fact: a public function or class has one definition."""
    where = defaultdict(list)
    for path, tree in _trees():
        if path.parts[1] == "cli":
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                where[node.name].append(str(path))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}
