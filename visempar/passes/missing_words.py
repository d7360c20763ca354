"""`missing_words: add`: the sentence's likely-concept words that the graph lacks, added.

A small parser leaves out many words the gold graph holds as concepts, and Smatch counts
every instance triple. The run's lexicon (`visempar.data.lexicon`, fitted on its training
graphs and stored as `RUN/lexicon.json`) knows which words are concepts in most training
sentences that hold them; each such word of the sentence that the graph lacks is added
with its commonest role, under the node of the nearest word of the sentence the graph
holds (the earlier of two as near), else under the root: Vietnamese puts a modifier beside
its head. The concept is then likely right, its attachment a guess.
"""

from __future__ import annotations

import penman

from visempar.amr.parse import fresh_variable
from visempar.data.lexicon import Lexicon
from visempar.passes.edit import outcome
from visempar.data.words import Words


def add_missing(sentence: Words, graph: penman.Graph, fitted: Lexicon | None) -> tuple[penman.Graph, int]:
    """`graph` with each likely-concept word of the sentence it lacks added, and how many were.

    Args:
        sentence: the sentence the graph is for.
        graph: the graph to mend.
        fitted: the run's lexicon (`Lexicon.likely` says which words, and their role).
    Returns:
        The new graph (or `graph` itself) and the number of words added.
    """
    if fitted is None:
        return graph, 0
    words = sentence.lower
    node_of: dict[str, str] = {}
    for t in graph.instances():
        node_of.setdefault((t.target or "").lower(), t.source)
    missing = [w for w in dict.fromkeys(words) if w not in node_of and fitted.likely(w)]
    taken = {t.source for t in graph.instances()} | {t.target for t in graph.attributes()}  # a constant too
    triples = list(graph.triples)
    for word in missing:
        at = words.index(word)
        nearest = sorted((j for j in range(len(words)) if words[j] in node_of), key=lambda j: (abs(j - at), j > at))
        parent = node_of[words[nearest[0]]] if nearest else graph.top
        node = fresh_variable(word, taken)
        triples += [(parent, fitted.likely(word), node), (node, ":instance", word)]
        node_of[word] = node
    return outcome(graph, triples, len(missing))
