"""Triples as the reference scorer reads them, the form it compares them in, and the
counts every score is made of.

The reference is `smatch` 1.0.4: its parser (`amr`, shipped with it) reads a graph written
on one line into (instances, attributes, relations) with `a0`-style node names, deleting
spaces outside role names and turning a closing quote into `_`; its `normalize` then
compares labels and values lower-cased without trailing `_`. `symbol_key` is that
comparison, the one visempar uses wherever it compares symbols as the reference does
(on the reference's triples, or on a graph's own symbols with `raw=True`).
"""

from __future__ import annotations

import io
from contextlib import contextmanager

Triples = tuple[list, list, list]  # smatch's (instances, attributes, relations), "a0"-style names


def symbol_key(symbol: str, *, raw: bool = False, spelling: bool = True) -> str:
    """A role, concept or value as the reference compares it: lower case, no trailing `_`
    (its `normalize`, applied to what its parser read). A `raw` symbol, as a graph holds
    it, is first read as the parser reads it: spaces and quotes deleted. With
    `spelling=False`, `_` is deleted too, so that `chủ_tịch` and `chủ tịch` (which the
    reference tells apart) compare equal: repair's account uses it, so that respelling a
    concept is not counted as losing it."""
    if raw:
        symbol = symbol.replace(" ", "").replace('"', "")
    key = symbol.lower().rstrip("_")
    return key if spelling else key.replace("_", "")


def triple_total(triples: Triples) -> int:
    return sum(map(len, triples))


def f_score(matched: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from triple counts (0 where undefined), as the reference."""
    p = matched / predicted if predicted else 0.0
    r = matched / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@contextmanager
def reference_reader():
    """The reference's parser module and its captured error log, for a batch of reads."""
    import amr as smatch_amr

    saved, log = smatch_amr.ERROR_LOG, io.StringIO()
    smatch_amr.ERROR_LOG = log
    try:
        yield smatch_amr, log
    finally:
        smatch_amr.ERROR_LOG = saved


def read_triples(smatch_amr, text: str, prefix: str) -> Triples | None:
    """One-line graph text read by the reference parser, nodes named `prefix0`,
    `prefix1`...; None (and the reason in its error log) when it cannot read it."""
    try:
        parsed = smatch_amr.AMR.parse_AMR_line(text)
    except Exception as e:  # the package raises on some inputs (IndexError, KeyError)
        print(f"{type(e).__name__}: {e}", file=smatch_amr.ERROR_LOG)
        return None
    if parsed is None:
        return None
    parsed.rename_node(prefix)
    return parsed.get_triples()


def reference_triples(text: str) -> Triples | None:
    """(instances, attributes, relations) of one-line graph text as the reference reads it,
    or None when it cannot read it."""
    with reference_reader() as (smatch_amr, _):
        return read_triples(smatch_amr, text, "a")
