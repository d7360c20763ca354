"""What every pass does last: its new triples made into a graph, or the old graph kept."""

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
