"""Negation from the sentence: `:polarity -` on the word a negator governs.

Vietnamese marks negation with a word before the predicate (`không hiểu`, `chưa về`), and
the VLSP graphs mark it with `:polarity -` on the predicate's node. In the 1,750 graphs of
the real training split, 293 sentences hold one of `NEGATORS`, 251 of their graphs have a
`:polarity`, and 62% of those polarities sit on the concept of the word right after the
negator. A small parser often drops the polarity (2 of 18 right on the real dev split), so
`mark_negation` adds it there when the graph has none: on the real dev split this raised
Smatch F1 of the best SmolLM2 system by 0.15 points (docs/real-corpus.md).
"""

from __future__ import annotations

import penman

NEGATORS = ("không", "chưa", "chẳng", "chả")


def mark_negation(sentence: str, graph: penman.Graph) -> tuple[penman.Graph, bool]:
    """`graph` with `:polarity -` on the node of the first word after a negator whose
    concept is that word (or starts with it), when the graph has no `:polarity` at all;
    whether it was added. The graph's own layout is kept."""
    if graph.attributes(role=":polarity"):
        return graph, False
    words = sentence.lower().split()
    following = [words[i + 1] for i, w in enumerate(words[:-1]) if w in NEGATORS]
    concept = {t.source: (t.target or "").lower() for t in graph.instances()}
    for word in following:
        nodes = ([v for v, c in concept.items() if c == word]
                 or [v for v, c in concept.items() if c.split(" ")[0] == word])
        if nodes:
            marked = penman.Graph([*graph.triples, (nodes[0], ":polarity", "-")], top=graph.top,
                                  epidata=dict(graph.epidata), metadata=dict(graph.metadata))
            try:
                penman.encode(marked)
            except penman.exceptions.PenmanError:
                return graph, False
            return marked, True
    return graph, False
