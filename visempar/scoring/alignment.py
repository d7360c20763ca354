"""Which triples of a prediction and of its gold graph the Smatch alignment matched.

The evaluation report draws each pair with this: a triple of the prediction is matched
when the alignment maps it onto a triple of the gold graph, the same way the reference
counts it (labels and values compared by `symbol_key`). The alignment is the one scoring
computes for the pair: the same texts read as the reference reads them, the same seeded
hill-climbing (`visempar.scoring.smatch.score_pair`), so its matched count is the row's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from visempar.amr.lenient import as_read_from_file
from visempar.scoring.hillclimb import best_match, candidate_pool
from visempar.scoring.triples import Triples, read_triples, reference_reader, symbol_key

Triple = tuple[str, str, str]


@dataclass(frozen=True)
class PairAlignment:
    """A pair's triples as the reference reads them (`a0`-named prediction, `b0`-named
    gold; None for a prediction it cannot read), the node mapping, and the matched
    triples of each side in their own naming, as `key` writes them."""

    pred: Triples | None
    gold: Triples
    mapping: tuple[int, ...]
    matched: int
    pred_matched: frozenset[Triple]
    gold_matched: frozenset[Triple]


def key(triple: Triple, part: int, names: dict[str, str] | None = None) -> Triple:
    """A reference triple (of `part` 0 instances, 1 attributes, 2 relations) as the
    reference compares it: labels and values by `symbol_key`, nodes by name (renamed by
    `names`, where an unmapped node becomes `""`, which matches nothing)."""
    label, x, y = triple
    node = (lambda v: names.get(v, "")) if names is not None else (lambda v: v)
    if part == 0:
        return ("instance", node(x), symbol_key(y))
    return (symbol_key(label), node(x), node(y) if part == 2 else symbol_key(y))


def align_texts(pred_text: str, gold_text: str, *, index: int = 0, seed: int = 0,
                restarts: int = 4) -> PairAlignment:
    """The alignment of one pair, read from the texts their files hold; the pair's seed is
    the one `score_pair` gives pair `index` of a file scored with `seed`."""
    with reference_reader() as (smatch_amr, _):
        gold = read_triples(smatch_amr, as_read_from_file(gold_text), "b")
        pred = read_triples(smatch_amr, as_read_from_file(pred_text), "a") if pred_text.strip() else None
    if gold is None:
        raise ValueError(f"gold graph {index + 1} cannot be read by the reference scorer")
    if pred is None:
        return PairAlignment(None, gold, (), 0, frozenset(), frozenset())
    mapping, matched = best_match(pred, gold, random.Random(seed * 1_000_003 + index), restarts,
                                  candidate_pool(pred, gold))
    names = {f"a{i}": f"b{j}" for i, j in enumerate(mapping) if j >= 0}
    gold_keys = {key(t, part) for part in range(3) for t in gold[part]}
    pred_hits, gold_hits = set(), set()
    for part in range(3):
        for t in pred[part]:
            mapped = key(t, part, names)
            if mapped in gold_keys:
                pred_hits.add(key(t, part))
                gold_hits.add(mapped)
    return PairAlignment(pred, gold, tuple(mapping), matched, frozenset(pred_hits), frozenset(gold_hits))
