"""Spelling of multi-word concepts: `chủ tịch` (gold convention) or `chủ_tịch`.

The reference scorer deletes spaces inside concepts, so `chủ_tịch` never matches a gold
`chủ tịch`: one switch chooses the spelling, and reading never changes it unasked.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import penman
from penman.tree import Tree

from visempar.amr.graph import map_concepts, to_graph, to_tree

ConceptStyle = Literal["space", "underscore"]
CONCEPT_STYLES: tuple[str, ...] = ("space", "underscore")


def respell(concept: str, style: ConceptStyle) -> str:
    """One concept in `style`; quoted concepts and English frames are left alone."""
    if concept.startswith('"'):
        return concept
    if style == "space":
        return " ".join(w for w in concept.replace("_", " ").split(" ") if w)
    if style == "underscore":
        return "_".join(w for w in concept.split(" ") if w)
    raise ValueError(f"unknown concept style {style!r}; expected one of "
                     f"{', '.join(CONCEPT_STYLES)}")


def normalize_concepts(graph: penman.Graph | Tree, style: ConceptStyle = "space"):
    """A copy of the graph (or tree) with every multi-word concept spelled in `style`."""
    if isinstance(graph, Tree):
        return map_concepts(graph, lambda c: respell(c, style))
    tree = map_concepts(to_tree(graph), lambda c: respell(c, style))
    return to_graph(tree, graph.metadata)


def spelling(concept: str) -> str:
    """`space`, `underscore`, `mixed` for multi-word concepts, `single` otherwise."""
    if concept.startswith('"'):
        return "single"
    has_space, has_underscore = " " in concept, "_" in concept
    if has_space and has_underscore:
        return "mixed"
    return "space" if has_space else "underscore" if has_underscore else "single"


def spelling_counts(graphs) -> Counter:
    """How many concept occurrences are spelled each way across `graphs`."""
    return Counter(spelling(inst.target) for g in graphs for inst in g.instances())
