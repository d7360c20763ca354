"""The sentence bootstrap behind every interval visempar prints.

A corpus score is a function of summed per-sentence counts, so a resample only needs the
sums of the counts of the sentences it draws. Each sentence's counts are packed into one
integer, fields wide enough that no sum overflows into the next, so that one `sum` adds
every field at once; `tests/test_bootstrap.py` checks the sums against a plain loop.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from visempar.scoring.triples import f_score


def resampled_sums(rows: Sequence[Sequence[int]], samples: int, seed: int = 0) -> Iterator[tuple[int, ...]]:
    """For each of `samples` resamples (len(rows) rows drawn with replacement, seeded), the
    sum of each field over the rows drawn. Counts must not be negative."""
    if not rows:
        return
    fields = len(rows[0])
    width = (len(rows) * max(1, max(max(r) for r in rows))).bit_length() + 1
    mask = (1 << width) - 1
    packed = [sum(v << k * width for k, v in enumerate(r)) for r in rows]
    rng = random.Random(seed)
    for _ in range(samples):
        total = sum(rng.choices(packed, k=len(packed)))
        yield tuple(total >> k * width & mask for k in range(fields))


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of `values`: as many values fall below it as above."""
    ordered = sorted(values)
    n = len(ordered)
    lo = ordered[max(0, math.floor((1 - level) / 2 * n + 1e-9))]  # 1e-9: (1 - 0.9) / 2 is 0.0499...
    hi = ordered[min(n - 1, math.ceil((1 + level) / 2 * n - 1e-9) - 1)]
    return lo, hi


def bootstrap_ci(counts: Sequence[tuple[int, int, int]], samples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the corpus F1 of (matched, predicted, gold) counts,
    resampling sentences; (0, 0) without sentences or samples."""
    if not counts or samples <= 0:
        return (0.0, 0.0)
    f1s = [f_score(*sums)[2] for sums in resampled_sums(counts, samples, seed)]
    lo, hi = percentile_interval(f1s, level)
    return (round(lo, 4), round(hi, 4))
