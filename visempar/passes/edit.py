"""What the passes share: nodes taken out of triples, and the new triples made into a
graph, or the old graph kept."""

from __future__ import annotations

import penman

from visempar.amr.graph import rebuilt


def outcome(graph: penman.Graph, triples: list, changes: int,
            layout: dict | None = None) -> tuple[penman.Graph, int]:
    """(the graph of `triples`, `changes`), or (`graph`, 0) when nothing changed or the
    new triples cannot be written as one graph (`visempar.amr.graph.rebuilt`)."""
    if not changes:
        return graph, 0
    new = rebuilt(graph, triples, layout)
    return (graph, 0) if new is None else (new, changes)


def without_nodes(triples: list, nodes: set[str]) -> list:
    """`triples` without `nodes`: their instances, their roles and the edges into them. An
    instance's concept is never a node, even where it spells one's variable (`(ủ1 / ủ)`
    stays when the node `ủ` goes)."""
    return [(s, r, t) for s, r, t in triples if s not in nodes and (r == ":instance" or t not in nodes)]
