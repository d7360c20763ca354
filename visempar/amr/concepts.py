"""Spelling of multi-word concepts: `chủ tịch` (gold convention) or `chủ_tịch`.

The reference scorer deletes spaces inside concepts, so `chủ_tịch` never matches a gold
`chủ tịch`: one switch chooses the spelling, and reading never changes it unasked.
Wiki titles (`:wiki(w / Hà_Nội)`) keep `_` in both spellings: so does the gold.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import penman
from penman.tree import Tree

from visempar.amr.graph import to_graph, to_tree

ConceptStyle = Literal["space", "underscore"]
CONCEPT_STYLES: tuple[str, ...] = ("space", "underscore")


def respell(concept: str, style: ConceptStyle) -> str:
    """One concept in `style`; quoted concepts and English frames are left alone."""
    if concept.startswith('"'):
        return concept
    if style == "space":
        words = concept.replace("_", " ").split()
        return " ".join(words) if words else concept
    if style == "underscore":
        return "_".join(concept.split())
    raise ValueError(f"unknown concept style {style!r}; expected one of "
                     f"{', '.join(CONCEPT_STYLES)}")


def _respell_tree(tree: Tree, style: ConceptStyle) -> Tree:
    def walk(node, role):
        var, branches = node
        out = []
        for r, target in branches:
            if r == "/":
                out.append((r, target if role == ":wiki" else respell(target, style)))
            elif isinstance(target, tuple):
                out.append((r, walk(target, r)))
            else:
                out.append((r, target))
        return (var, out)

    return Tree(walk(tree.node, None), metadata=dict(tree.metadata))


def normalize_concepts(graph: penman.Graph | Tree, style: ConceptStyle = "space"):
    """A copy of the graph (or tree) with every multi-word concept spelled in `style`."""
    if isinstance(graph, Tree):
        return _respell_tree(graph, style)
    return to_graph(_respell_tree(to_tree(graph), style), graph.metadata)


def spelling(concept: str) -> str:
    """`space`, `underscore`, `mixed` for multi-word concepts, `single` otherwise."""
    if concept.startswith('"'):
        return "single"
    has_space, has_underscore = " " in concept, "_" in concept
    if has_space and has_underscore:
        return "mixed"
    return "space" if has_space else "underscore" if has_underscore else "single"


def spelling_counts(graphs) -> Counter:
    """How many concept occurrences (wiki titles aside) are spelled each way."""
    counts: Counter = Counter()
    for g in graphs:
        wiki = {e.target for e in g.edges(role=":wiki")}
        counts.update(spelling(i.target) for i in g.instances() if i.source not in wiki)
    return counts
