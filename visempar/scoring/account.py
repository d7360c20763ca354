"""What of one graph survives in another, triple by triple, as the reference reads them.

`visempar repair` reports it per block: a repair should change what the reference cannot
read and nothing else, so every triple it reads in the input and no longer reads in the
output is listed by name.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from visempar.scoring.exact import exact_alignment
from visempar.scoring.hillclimb import best_match, candidate_pool
from visempar.scoring.triples import Triples, read_triples, reference_reader, symbol_key, triple_total

Named = tuple[str, str, str]  # (label, node's concept, value or other node's concept)


@dataclass(frozen=True)
class Account:
    """Triples the reference reads in the source: how many, and those the result lost."""

    total: int
    lost: list[Named]

    @property
    def kept(self) -> int:
        return self.total - len(self.lost)


def _spelling_free(triples: Triples) -> Triples:
    instances, attributes, relations = triples
    return [(r, v, symbol_key(c, spelling=False)) for r, v, c in instances], attributes, relations


def account(source: str, result: str) -> Account | None:
    """The triples the reference reads in one-line `source` but not in one-line `result`,
    under the best variable mapping branch and bound finds (the reference's hill-climbing
    first; past its search budget, the best found, so a loss may be overstated, never
    hidden), with concept spelling ignored (`symbol_key(spelling=False)`). None when the
    reference cannot read `source`."""
    with reference_reader() as (smatch_amr, _):
        src, out = read_triples(smatch_amr, source, "b"), read_triples(smatch_amr, result, "a")
    if src is None:
        return None
    concept = {v: c for _, v, c in src[0]}
    named = ([(r, concept[v], c) for r, v, c in src[0]], [(r, concept[v], t) for r, v, t in src[1]],
             [(r, concept[x], concept[y]) for r, x, y in src[2]])
    if out is None:
        return Account(triple_total(src), [t for part in named for t in part])
    src, out = _spelling_free(src), _spelling_free(out)
    pool = candidate_pool(out, src)
    start, matched = best_match(out, src, random.Random(0), 4, pool)
    _, _, mapping = exact_alignment(*pool, matched, start)
    at = {f"a{i}": f"b{j}" for i, j in enumerate(mapping or start) if j != -1}

    def key(label: str, *ends: str) -> tuple:
        return (symbol_key(label), *(symbol_key(e) for e in ends))

    held = Counter(key(r, at.get(v, "?"), c) for r, v, c in out[0])
    held.update(key(r, at.get(v, "?"), t) for r, v, t in out[1])
    held.update(key(r, at.get(x, "?"), at.get(y, "?")) for r, x, y in out[2])
    lost = []
    for part, readable in zip(src, named):
        for triple, shown in zip(part, readable):
            k = key(*triple)
            if held[k] > 0:
                held[k] -= 1
            else:
                lost.append(shown)
    return Account(triple_total(src), lost)
