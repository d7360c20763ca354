"""Triples as the reference scorer reads them, and the counts every score is made of."""

from __future__ import annotations

Triples = tuple[list, list, list]  # smatch's (instances, attributes, relations), "a0"-style names


def triple_total(triples: Triples) -> int:
    return sum(map(len, triples))


def f_score(matched: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from triple counts (0 where undefined), as the reference."""
    p = matched / predicted if predicted else 0.0
    r = matched / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
