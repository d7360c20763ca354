"""Is system A better than system B on these sentences? The paired bootstrap.

Both files are scored against the same gold with the same seeded search (`evaluate`'s).
Sentences are resampled with replacement, the same indices for both systems, and the
corpus F1 difference A - B is recomputed on each resample: its 2.5th and 97.5th
percentiles are the 95% interval, and p is the share of resamples where A does not beat B
(one-sided; as in Koehn 2004, and the `--bootstrap-test` of IBM's transition-amr-parser).
"""

from __future__ import annotations

import random
from typing import Sequence

from visempar.eval.smatch import SmatchReport
from visempar.eval.triples import f_score


def paired_bootstrap(a: SmatchReport, b: SmatchReport, samples: int = 1000, seed: int = 0) -> dict:
    """`delta` (F1 of A minus F1 of B), its 95% `ci`, and `p`."""
    if a.pairs != b.pairs:
        raise ValueError(f"{a.pairs} sentences against {b.pairs}: compare the same sentences")
    rows_a, rows_b = a.per_sentence, b.per_sentence
    counts = [tuple(r[k] for k in ("matched", "predicted", "gold")) for r in rows_a]
    counts_b = [tuple(r[k] for k in ("matched", "predicted", "gold")) for r in rows_b]
    delta = _f1(counts, range(len(counts))) - _f1(counts_b, range(len(counts_b)))
    rng = random.Random(seed)
    rows = range(len(counts))
    deltas = []
    for _ in range(samples):
        pick = rng.choices(rows, k=len(rows))
        deltas.append(_f1(counts, pick) - _f1(counts_b, pick))
    deltas.sort()
    lo = deltas[int(0.025 * samples)]
    hi = deltas[min(samples - 1, int(0.975 * samples))]
    not_better = sum(d <= 0 for d in deltas) / samples
    return {"f1_a": a.f1, "f1_b": b.f1, "delta": round(delta, 4), "ci": [round(lo, 4), round(hi, 4)],
            "p": round(not_better, 4), "samples": samples, "sentences": len(counts),
            "sentences_a_better": sum(x > y for x, y in zip(_sentence_f1(counts), _sentence_f1(counts_b))),
            "sentences_b_better": sum(y > x for x, y in zip(_sentence_f1(counts), _sentence_f1(counts_b)))}


def _f1(counts: Sequence[tuple[int, int, int]], pick) -> float:
    m = p = g = 0
    for i in pick:
        m, p, g = m + counts[i][0], p + counts[i][1], g + counts[i][2]
    return f_score(m, p, g)[2]


def _sentence_f1(counts):
    return [f_score(*c)[2] for c in counts]
