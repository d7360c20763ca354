"""Write `penman.Tree`/`penman.Graph` objects as text.

Two styles: `vlsp`, the challenge's multi-line layout (4-space indent, `:role(` with no
space), and `oneline`, standard PENMAN spacing on one line. Both are read back by
`visempar.amr.parse` into the same triples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import penman
from penman.tree import Tree

from visempar.amr.graph import to_tree

Style = Literal["vlsp", "oneline"]
STYLES: tuple[str, ...] = ("vlsp", "oneline")

_UNSAFE_RE = re.compile(r'[()"\s]|^:|^/$|^$')


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def safe_atom(value: str) -> str:
    """A constant as it can be read back: quoted when it would not survive as a symbol."""
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        return value
    return quote(value) if _UNSAFE_RE.search(value) else value


def safe_concept(concept: str) -> str:
    """A concept as it can be read back; spaces are allowed (multi-word concepts)."""
    if concept.startswith('"') and concept.endswith('"') and len(concept) >= 2:
        return concept
    words = concept.split(" ")
    return concept if all(w and not _UNSAFE_RE.search(w) for w in words) else quote(concept)


def format_node(node, style: Style = "vlsp", indent: int = 4,
                head: Callable[[str, str], str] | None = None,
                atom: Callable[[str], str] | None = None) -> str:
    """Format a tree node; `head` and `atom` let the variable-free notation reuse this."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {', '.join(STYLES)}")
    head = head or (lambda var, concept: f"{var} / {safe_concept(concept)}")
    atom = atom or safe_atom
    parts: list[str] = []

    def walk(node, depth: int) -> None:
        var, branches = node
        parts.append("(" + head(var, branches[0][1]))
        for role, target in branches[1:]:
            if style == "vlsp":
                parts.append("\n" + " " * (indent * (depth + 1)) + role)
                if isinstance(target, tuple):
                    walk(target, depth + 1)
                else:
                    parts.append(" " + atom(target))
            else:
                parts.append(" " + role + " ")
                if isinstance(target, tuple):
                    walk(target, depth + 1)
                else:
                    parts.append(atom(target))
        parts.append(")")

    walk(node, 0)
    return "".join(parts)


def format_graph(graph: penman.Graph | Tree, style: Style = "vlsp", indent: int = 4) -> str:
    """The graph's text in `style`, keeping its layout."""
    tree = graph if isinstance(graph, Tree) else to_tree(graph)
    return format_node(tree.node, style, indent)
