"""`negation: next-word`: `:polarity -` on the word a negator governs.

Vietnamese marks negation with a word before the predicate (`không hiểu`, `chưa về`), and
the VLSP graphs mark it with `:polarity -` on the predicate's node. In the 1,750 graphs of
the real training split, 293 sentences hold one of `NEGATORS`, 251 of their graphs have a
`:polarity`, and 62% of those polarities sit on the concept of the word right after the
negator. A small parser often drops the polarity, so the pass adds it there when the graph
has none.
"""

from __future__ import annotations

import penman

from visempar.passes.edit import outcome
from visempar.data.words import Words

NEGATORS = ("không", "chưa", "chẳng", "chả")


def mark_negation(sentence: Words, graph: penman.Graph, fitted=None) -> tuple[penman.Graph, int]:
    """`graph` with `:polarity -` on the node of the first word after a negator whose
    concept is that word (or starts with it), when the graph has no `:polarity` at all.

    Args:
        sentence: the sentence the graph is for.
        graph: the graph to mend.
        fitted: unused (this pass needs nothing fitted in training).
    Returns:
        The new graph (or `graph` itself) and 1 or 0, the polarities added.
    """
    if graph.attributes(role=":polarity"):
        return graph, 0
    words = sentence.lower
    following = [words[i + 1] for i, w in enumerate(words[:-1]) if w in NEGATORS]
    concept = {t.source: (t.target or "").lower() for t in graph.instances()}
    for word in following:
        nodes = ([v for v, c in concept.items() if c == word]
                 or [v for v, c in concept.items() if c.split(" ")[0] == word])
        if nodes:
            return outcome(graph, [*graph.triples, (nodes[0], ":polarity", "-")], 1)
    return graph, 0
