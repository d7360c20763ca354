"""`names: capitalized`: capitalised words of the sentence written as named entities.

The VLSP graphs write a name as an entity node with a `:name` node whose `:opN` are the
name's words as concept nodes, and a `:wiki`: `-` for a person, else the words joined with
`_` (`(c / country :name (n / name :op1 (n1 / Nga)) :wiki (n2 / Nga))`). The training
sentences are almost all lower case while the test inputs are cased news and literary
text, so a small parser fine-tuned on them rarely writes a name; this pass reads the case.

Every run of capitalised words not at the start of a sentence or clause (a run of two or
more is taken there too), that the graph does not already hold as a name, becomes an
entity. The node that already spells the name (or a leaf that spells one of its words) is
turned into the entity where the graph has one, the leaves of its other words dropped;
else the entity hangs with `:mod` under the node of the title before the name (`anh`,
`ông`...) or under the root. The type comes from the word or two before the name
(`TYPE_BEFORE`: `nước` country, `tỉnh` province, `thành phố` city, `công ty` company...;
`city` after a preposition of place, `ở`, `tại`...), unless the run's training graphs
typed this very name, or agree on the type of names after that word (`name_type`); else
the commonest type of their entities (`person`). The types are guesses where the word
before says little; a wrong one costs its instance triple, and for a place written as a
person the wiki.
"""

from __future__ import annotations

import penman

from visempar.amr.graph import leaves, name_words
from visempar.amr.parse import fresh_variable
from visempar.data.lexicon import Lexicon
from visempar.passes.edit import outcome, without_nodes
from visempar.data.words import Words

TITLES = frozenset(("anh chị ông bà cô chú bác em cậu dì thím mợ cụ thầy cháu chàng nàng "
                    "lão ngài thằng con mẹ bố cha má").split())
TYPE_BEFORE = {"nước": "country", "quốc gia": "country", "tỉnh": "province",
               "thành phố": "city", "tp": "city", "huyện": "district", "sông": "river",
               "công ty": "company", "báo": "newspaper",
               **dict.fromkeys(("ở", "tại", "đến", "từ", "về", "sang", "qua"), "city")}
CLAUSE_START = frozenset('. ! ? : ; " “ ” - – — … ( [ \''.split())


def capitalised_runs(sentence: Words) -> list[tuple[int, list[str]]]:
    """(index of the word before, the words) for each run of capitalised words that is
    likely a name; none in a sentence of four words or more that are mostly capitalised
    (a headline).

    >>> capitalised_runs(Words.of("hôm qua tôi gặp anh Bùi Văn Luyến ở nhà của ông tại Hà Nội"))
    [(4, ['Bùi', 'Văn', 'Luyến']), (12, ['Hà', 'Nội'])]
    >>> capitalised_runs(Words.of("TIN VẮN Hà Nội Mưa To"))  # a headline
    []
    """
    words = sentence.cased
    lettered = [w for w in words if any(c.isalpha() for c in w)]
    if len(lettered) >= 4 and 2 * sum(w[0].isupper() for w in lettered) > len(lettered):
        return []
    runs: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(words):
        if not (words[i][0].isupper() and words[i].isalpha()):
            i += 1
            continue
        j = i
        while j < len(words) and words[j][0].isupper() and words[j].isalpha():
            j += 1
        run, before = list(words[i:j]), i - 1
        while len(run) > 1 and run[0].lower() in TITLES:  # `Ông Trương` at a clause start
            run, before = run[1:], before + 1
        at_start = before < 0 or words[before] in CLAUSE_START
        if not at_start or len(run) > 1 or before >= 0 and words[before].lower() in TITLES:
            runs.append((before, run))
        i = j
    return runs


def mark_names(sentence: Words, graph: penman.Graph, fitted: Lexicon | None = None) -> tuple[penman.Graph, int]:
    """`graph` with each likely name of the sentence (module docstring) it lacks written as
    an entity, and how many were.

    Args:
        sentence: the sentence the graph is for, case kept.
        graph: the graph to mend.
        fitted: the run's lexicon, when there is one: a name its training graphs typed
            keeps that type, a word they show before names of one type gives it.
    Returns:
        The new graph (or `graph` itself) and the number of names written.
    """
    words = sentence.lower
    triples, added = list(graph.triples), 0
    for before, run in capitalised_runs(sentence):
        if _holds_name(triples, run):
            continue
        prior = words[before] if before >= 0 else ""
        prior2 = " ".join(words[before - 1:before + 1]) if before >= 1 else ""
        triples = _with_entity(triples, graph.top, run, name_type(run, prior, prior2, fitted), prior)
        added += 1
    return outcome(graph, triples, added)


def name_type(run: list[str], prior: str, prior2: str, fitted: Lexicon | None) -> str:
    """The type of a name: the one the training graphs gave this name, else the one they
    give names after this word, else the word or two before (`TYPE_BEFORE`), else the
    commonest type of the training graphs' entities (`person` without them)."""
    if fitted is not None:
        known = fitted.names.get(_key(" ".join(run))) or fitted.types_after.get(prior)
        if known:
            return known
    return (TYPE_BEFORE.get(prior2) or TYPE_BEFORE.get(prior)
            or (fitted.commonest_type if fitted is not None else "person"))


def _key(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


def _holds_name(triples: list, run: list[str]) -> bool:
    """Whether a `:name` node of the graph already has one of `run`'s words."""
    concept = {s: t for s, r, t in triples if r == ":instance"}
    words = {_key(w) for w in run}
    return any(_key(str(concept.get(v, v))) in words for v in name_words(triples, concept))


def _with_entity(triples: list, top: str, run: list[str], kind: str, title: str) -> list:
    concept = {s: t for s, r, t in triples if r == ":instance"}
    whole, spelled = _key(" ".join(run)), {_key(w) for w in run}
    named = name_words(triples, concept)
    droppable = leaves(penman.Graph(triples, top=top)) - named
    exact = [v for v, c in concept.items() if _key(str(c)) == whole and v not in named]
    spellers = [v for v, c in concept.items() if _key(str(c)) in spelled | {whole} and v in droppable]
    if exact or spellers:  # the model wrote the name as a plain word: that node becomes the entity
        host = (exact or spellers)[0]
        dropped = set(spellers) - {host}
        triples = [(s, r, kind if (s == host and r == ":instance") else t)
                   for s, r, t in without_nodes(triples, dropped)]
    taken = {s for s, _, _ in triples} | {t for _, _, t in triples}  # constants too: no new name may equal one
    if not (exact or spellers):
        host = fresh_variable(kind, taken)
        parent = next((v for v, c in concept.items() if title in TITLES and _key(str(c)) == title), top)
        triples = [*triples, (parent, ":mod", host), (host, ":instance", kind)]
    name = fresh_variable("name", taken)
    triples += [(host, ":name", name), (name, ":instance", "name")]
    for k, word in enumerate(run, 1):
        op = fresh_variable(word, taken)
        triples += [(name, f":op{k}", op), (op, ":instance", word)]
    if kind == "person":
        return [*triples, (host, ":wiki", "-")]
    wiki = fresh_variable("_".join(run), taken)
    return [*triples, (host, ":wiki", wiki), (wiki, ":instance", "_".join(run))]
