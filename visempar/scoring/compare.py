"""Is system A better than system B on these sentences? The paired bootstrap.

Both files are scored against the same gold with the same seeded search (`evaluate`'s).
Sentences are resampled with replacement, the same indices for both systems, and the
corpus F1 difference A - B is recomputed on each resample: its central 95% is the
interval, and p is the share of resamples where A does not beat B (one-sided; as in
Koehn 2004, and the `--bootstrap-test` of IBM's transition-amr-parser).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from visempar.scoring.bootstrap import percentile_interval, resampled_sums
from visempar.scoring.smatch import SmatchReport
from visempar.scoring.triples import f_score


@dataclass(frozen=True)
class Comparison:
    """A against B on the same sentences."""

    f1_a: float
    f1_b: float
    delta: float  # F1 of A minus F1 of B
    ci: tuple[float, float]  # 95% interval of delta
    p: float  # share of resamples where A does not beat B
    samples: int
    sentences: int
    sentences_a_better: int
    sentences_b_better: int

    def to_dict(self) -> dict:
        return {**asdict(self), "ci": list(self.ci)}


def _counts(report: SmatchReport) -> list[tuple[int, int, int]]:
    return [(r["matched"], r["predicted"], r["gold"]) for r in report.per_sentence]


def paired_bootstrap(a: SmatchReport, b: SmatchReport, samples: int = 1000, seed: int = 0) -> Comparison:
    if a.pairs != b.pairs:
        raise ValueError(f"{a.pairs} sentences against {b.pairs}: compare the same sentences")
    counts_a, counts_b = _counts(a), _counts(b)
    rows = [(*x, *y) for x, y in zip(counts_a, counts_b)]
    whole = [sum(col) for col in zip(*rows)] if rows else [0] * 6
    delta = f_score(*whole[:3])[2] - f_score(*whole[3:])[2]
    deltas = [f_score(*s[:3])[2] - f_score(*s[3:])[2] for s in resampled_sums(rows, samples, seed)]
    lo, hi = percentile_interval(deltas) if deltas else (0.0, 0.0)
    per_a = [f_score(*c)[2] for c in counts_a]
    per_b = [f_score(*c)[2] for c in counts_b]
    return Comparison(
        f1_a=a.f1, f1_b=b.f1, delta=round(delta, 4), ci=(round(lo, 4), round(hi, 4)),
        p=round(sum(d <= 0 for d in deltas) / samples, 4), samples=samples, sentences=len(rows),
        sentences_a_better=sum(x > y for x, y in zip(per_a, per_b)),
        sentences_b_better=sum(y > x for x, y in zip(per_a, per_b)))
