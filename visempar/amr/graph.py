"""Conversions between `penman.Tree` (the layout) and `penman.Graph` (the triples).

A graph read by visempar keeps its layout in penman's epidata, so `to_tree(to_graph(t))`
gives back `t`: which node comes first, where re-entrancies sit, which roles are inverted.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import contextmanager
import penman
from penman import layout
from penman.tree import Tree


@contextmanager
def _quiet_penman():
    """penman logs layout notes (duplicate triples); visempar reports those itself."""
    logger = logging.getLogger("penman")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def to_graph(tree: Tree, metadata: dict[str, str] | None = None) -> penman.Graph:
    with _quiet_penman():
        graph = layout.interpret(tree)
    graph.metadata = dict(metadata or {})
    return graph


def to_tree(graph: penman.Graph) -> Tree:
    with _quiet_penman():
        return layout.configure(graph)


def duplicate_triples(graph: penman.Graph) -> list[tuple[str, str, str]]:
    """Triples written more than once (the reference scorer counts each copy)."""
    seen: set = set()
    dups = []
    for triple in graph.triples:
        if triple in seen:
            dups.append(triple)
        seen.add(triple)
    return dups


def canonical_triples(graph: penman.Graph) -> set[tuple[str, str, str]]:
    """The triples with variables renamed by order of appearance, plus the TOP triple.

    Two graphs that differ only in variable names (for example a graph and
    `restore_variables(strip_variables(graph))`) have equal canonical triples.
    """
    names: dict[str, str] = {}
    for src, role, _ in graph.triples:
        if role == ":instance" and src not in names:
            names[src] = f"v{len(names)}"
    triples = {(names.get(s, s), r, t if r == ":instance" else names.get(t, t))
               for s, r, t in graph.triples}
    triples.add(("TOP", ":top", names.get(graph.top, graph.top)))
    return triples


def triple_count(graph: penman.Graph) -> int:
    """Triples as the reference scorer counts them: instances, edges, attributes and TOP."""
    return len(graph.triples) + 1


def leaves(graph: penman.Graph) -> set[str]:
    """The nodes a pass may drop or rewrite alone: no roles of their own, exactly one
    edge into them, not the root."""
    has_roles = {t.source for t in graph.edges()} | {t.source for t in graph.attributes()}
    into = Counter(e.target for e in graph.edges())
    return {t.source for t in graph.instances()
            if t.source != graph.top and t.source not in has_roles and into[t.source] == 1}


def name_words(triples, concept: dict) -> set[str]:
    """The nodes that are the words of a `name` node (its `:opN` targets), given the
    graph's triples and each variable's concept."""
    return {t for s, r, t in triples if r[:3] == ":op" and concept.get(s) == "name"}


def rebuilt(graph: penman.Graph, triples: list, layout: dict | None = None) -> penman.Graph | None:
    """`graph` with `triples` instead of its own: the same top and metadata, and the layout
    of each triple it keeps (or `layout`, for triples that were rewritten); None when
    the result cannot be written (a triple that leaves a node unreachable, an edge to a
    node whose concept is gone), so a caller keeps the graph it had."""
    if layout is None:
        layout = {t: graph.epidata[t] for t in triples if t in graph.epidata}
    new = penman.Graph(triples, top=graph.top, epidata=layout, metadata=dict(graph.metadata))
    try:
        tree = to_tree(new)
    except penman.exceptions.PenmanError:
        return None
    if any(not branches or branches[0][0] != "/" for _, branches in tree.nodes()):
        return None
    return new
