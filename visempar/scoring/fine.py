"""Fine-grained scores in the style of Damonte et al. (2017), for the VLSP dialect.

Each component looks at one aspect of the graphs and is scored at corpus level (micro
precision, recall and F1 over matched / predicted / gold counts), like Smatch itself:

- smatch: the full score (same figures as `visempar evaluate --metric smatch`);
- unlabeled: Smatch after every role label is replaced by one label;
- no_wsd: Smatch after sense suffixes are removed from concepts (`contrast-01` -> `contrast`);
- concepts: the multiset of concepts;
- named_entities: the concepts of nodes with a `:name` (`person`, `city`...);
- negation: the concepts of nodes with a `:polarity`;
- wikification: the `:wiki` values (VLSP writes them as nodes, `:wiki(w / Hà_Nội)`, or `-`);
- reentrancies: Smatch on the edges into re-entrant nodes and the concepts they connect;
- srl: Smatch on the predicate-argument edges and the concepts they connect.

Where VLSP differs from English AMR, the adaptation is stated here:

- the SRL roles are `:ARGn` (English frames) and the Vietnamese participant roles
  `SRL_ROLES`, including the `-argN` roles (`:result-arg1`, `:beneficiary-arg0`);
- a node is re-entrant when more than one edge points at it once each `:X-of` is read as
  `:X` the other way round. `:mod` stays `:mod`: the reference parser turns it into an
  inverted `:domain`, which would make every modified node look re-entrant.

The three Smatch-type components use the reference parser's triples; the others read the
graph, with concepts compared as the reference compares them (`symbol_key`).
Alignments are hill-climbing with the caller's seeded restarts, one per component.
Concepts, names, negations and wiki values are compared as multisets.

Only the Smatch component counts a repeated triple as often as the reference does (which
can put a graph's score against itself above 1); every other component counts each
distinct triple once, so its precision and recall never exceed 1.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

import penman

from visempar.scoring.triples import Triples, f_score, symbol_key, triple_total


COMPONENTS = ("smatch", "unlabeled", "no_wsd", "concepts", "named_entities", "negation",
              "wikification", "reentrancies", "srl")
LABELS = {"smatch": "Smatch", "unlabeled": "Unlabeled", "no_wsd": "No WSD",
          "concepts": "Concepts", "named_entities": "Named entities", "negation": "Negation",
          "wikification": "Wikification", "reentrancies": "Re-entrancies", "srl": "SRL"}

SRL_ROLES = ("agent", "patient", "theme", "experiencer", "pivot", "stimulus", "beneficiary",
             "recipient")
_SRL = re.compile(r"arg\d+|(?:" + "|".join(SRL_ROLES) + r")|[a-z]+-arg\d+")
_SENSE = re.compile(r"^(.*\D)-\d+$")


# -- transforms of the reference's triples (then aligned) ---------------------------------

def _distinct(items: Iterable) -> list:
    return list(dict.fromkeys(items))


def unlabeled(triples: Triples) -> Triples:
    """Every role label becomes one label; the TOP triple keeps its own. Edges keep their
    direction (Damonte's text substitution also dropped the inversion of `:X-of`)."""
    instances, attributes, relations = triples
    return (instances,
            _distinct(t if t[0] == "TOP" else ("label", t[1], t[2]) for t in attributes),
            _distinct(("label", t[1], t[2]) for t in relations))


def no_wsd(triples: Triples) -> Triples:
    """Concepts without their sense suffix."""
    instances, attributes, relations = triples
    return ([(i, v, _SENSE.sub(r"\1", c)) for i, v, c in instances], _distinct(attributes),
            _distinct(relations))


# -- subgraphs of the graph itself (then aligned) -----------------------------------------

def _subgraph(graph: penman.Graph, edges: Iterable, prefix: str) -> Triples:
    """Smatch-style triples of some edges and the concepts of the nodes they connect,
    with variables renamed `prefix0`, `prefix1`... as the aligner needs."""
    concept = {i.source: i.target or "" for i in graph.instances()}
    edges = _distinct(e for e in edges if e.source in concept and e.target in concept)
    names: dict[str, str] = {}
    for e in edges:
        for var in (e.source, e.target):
            names.setdefault(var, f"{prefix}{len(names)}")
    instances = [("instance", name, symbol_key(concept[var], raw=True)) for var, name in names.items()]
    relations = [(e.role.lstrip(":").lower(), names[e.source], names[e.target]) for e in edges]
    return instances, [], relations


def reentrancy_edges(graph: penman.Graph) -> list:
    """Every edge into a node that more than one distinct edge points at."""
    edges = _distinct(graph.edges())
    indegree = Counter(e.target for e in edges)
    return [e for e in edges if indegree[e.target] > 1]


def srl_edges(graph: penman.Graph) -> list:
    return [e for e in graph.edges() if _SRL.fullmatch(e.role.lstrip(":").lower())]


# -- counted components (multisets, no alignment) -----------------------------------------

def concepts(graph: penman.Graph) -> Counter:
    return Counter(symbol_key(i.target or "", raw=True) for i in graph.instances())


def _concepts_of(graph: penman.Graph, sources: Iterable[str]) -> Counter:
    concept = {i.source: symbol_key(i.target or "", raw=True) for i in graph.instances()}
    return Counter(concept[s] for s in sources if s in concept)


def named_entities(graph: penman.Graph) -> Counter:
    return _concepts_of(graph, (e.source for e in graph.edges(role=":name")))


def negations(graph: penman.Graph) -> Counter:
    return _concepts_of(graph, (a.source for a in graph.attributes(role=":polarity")))


def wikification(graph: penman.Graph) -> Counter:
    concept = {i.source: i.target or "" for i in graph.instances()}
    nodes = (symbol_key(concept.get(e.target, e.target), raw=True) for e in graph.edges(role=":wiki"))
    values = (symbol_key(a.target, raw=True) for a in graph.attributes(role=":wiki"))
    return Counter([*nodes, *values])


ALIGNED_TRIPLES: dict[str, Callable[[Triples], Triples]] = {
    "smatch": lambda t: t, "unlabeled": unlabeled, "no_wsd": no_wsd}
ALIGNED_EDGES: dict[str, Callable[[penman.Graph], list]] = {
    "reentrancies": reentrancy_edges, "srl": srl_edges}
COUNTED: dict[str, Callable[[penman.Graph], Counter]] = {
    "concepts": concepts, "named_entities": named_entities, "negation": negations,
    "wikification": wikification}


def fine_counts(pred: penman.Graph | None, gold: penman.Graph, pred_triples: Triples | None,
                gold_triples: Triples, align: Callable[[Triples, Triples], int]
                ) -> dict[str, tuple[int, int, int]]:
    """(matched, predicted, gold) of every component for one pair; `align` returns the
    matched triples of two triple sets (`a`-prefixed prediction, `b`-prefixed gold).
    A missing prediction matches nothing and predicts nothing; the gold still counts."""
    if pred is None or pred_triples is None:
        pred, pred_triples = None, None
    out: dict[str, tuple[int, int, int]] = {}
    for name, transform in ALIGNED_TRIPLES.items():
        g = transform(gold_triples)
        p = transform(pred_triples) if pred_triples else None
        out[name] = (align(p, g) if p else 0, triple_total(p) if p else 0, triple_total(g))
    for name, select in ALIGNED_EDGES.items():
        g = _subgraph(gold, select(gold), "b")
        p = _subgraph(pred, select(pred), "a") if pred is not None else None
        matched = align(p, g) if p and p[0] and g[0] else 0
        out[name] = (matched, triple_total(p) if p else 0, triple_total(g))
    for name, count in COUNTED.items():
        held, wanted = (count(pred) if pred is not None else Counter()), count(gold)
        out[name] = (sum((held & wanted).values()), sum(held.values()), sum(wanted.values()))
    return {name: out[name] for name in COMPONENTS}


def fine_totals(scores) -> dict[str, dict]:
    """Corpus-level (micro) precision, recall and F1 of each component, from pair scores
    (`smatch.PairScore`) that hold their `fine` counts."""
    out = {}
    for name in COMPONENTS:
        m, p, g = (sum(s.fine[name][k] for s in scores) for k in range(3))
        prec, rec, f = f_score(m, p, g)
        out[name] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f, 4),
                     "matched": m, "predicted": p, "gold": g}
    return out
