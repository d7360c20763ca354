"""`copy_words: nearest`: a misspelled sentence word among the concepts, respelled.

A small model that has never read Vietnamese misspells words it copies from the sentence
(`thiếp tục` for `tiếp tục`, `hện nay` for `hiện nay`): about 3.5% of the concepts of
SmolLM2's outputs are no word of their sentence and no concept the training graphs use
beyond their sentences. Such a concept is replaced by the sentence's nearest phrase of one
to three words when the edit distance is at most a third of the longer of the two. Only
concepts with a letter outside ASCII are touched, so the English concepts and frames of
the VLSP graphs (`and`, `person`, `contrast-01`) never are.
"""

from __future__ import annotations

import penman

from visempar.passes.edit import outcome
from visempar.data.words import Words

MAX_DISTANCE = 1 / 3  # of the longer string's length


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions of one character.

    >>> edit_distance("thiếp", "tiếp")
    1
    """
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def respell_words(sentence: Words, graph: penman.Graph, fitted=None) -> tuple[penman.Graph, int]:
    """`graph` with each misspelled sentence word among its concepts respelled, and how
    many were; the layout is kept.

    Args:
        sentence: the sentence the graph is for.
        graph: the graph to mend.
        fitted: unused (this pass needs nothing fitted in training).
    Returns:
        The new graph (or `graph` itself) and the number of concepts respelled.
    """
    phrases = sentence.phrases()
    if not phrases:
        return graph, 0
    triples, layout, changed = [], {}, 0
    for triple in graph.triples:
        source, role, concept = triple
        new = triple
        word = (concept or "").lower().replace("_", " ")
        if (role == ":instance" and word and not word.isascii() and not word.startswith('"')
                and word not in sentence.lowered):
            nearest = min(phrases, key=lambda p: (edit_distance(word, p), abs(len(p) - len(word))))
            if edit_distance(word, nearest) <= MAX_DISTANCE * max(len(word), len(nearest)):
                spelled = nearest.replace(" ", "_") if "_" in concept else nearest  # the graph's own joiner
                new, changed = (source, role, spelled), changed + 1
        triples.append(new)
        if triple in graph.epidata:
            layout[new] = graph.epidata[triple]
    return outcome(graph, triples, changed, layout)
