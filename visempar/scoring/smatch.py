"""Corpus-level Smatch that agrees with the challenge's reference scorer, deterministically.

The triples are the reference's own: each graph is written on one line and read by
`smatch` 1.0.4's parser (TOP triple, `-of` inversion, `:mod` as inverted `:domain`,
lower-casing, spaces deleted inside concepts, its handling of quotes). The alignment is
its hill-climbing too (`visempar.scoring.hillclimb`, step for step the package's, faster),
with what made it unreliable removed (failure modes C3, C5):

- nothing is cached between pairs, so a score never depends on earlier pairs;
- its random restarts draw from a generator seeded per pair, so a file always gets the
  same score (the package re-seeds from the OS on every call);
- an empty, garbage or unreadable prediction scores zero matched triples while its gold
  triples still count, and is listed; nothing is dropped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import penman

from visempar.amr.errors import CorpusError
from visempar.amr.format import format_graph
from visempar.scoring.bootstrap import bootstrap_ci
from visempar.scoring.exact import exact_match
from visempar.scoring.fine import fine_counts, fine_totals
from visempar.scoring.hillclimb import best_match, candidate_pool
from visempar.scoring.triples import Triples, f_score, read_triples, reference_reader, triple_total


def align_triples(a: Triples, b: Triples, *, restarts: int = 4, seed: int = 0) -> tuple[int, list[int]]:
    """The reference's seeded hill-climbing between two graphs' triples (`reference_triples`):
    matched triples, and for each node of `a` the index of its node in `b` (-1: none)."""
    mapping, matched = best_match(a, b, random.Random(seed), restarts)
    return matched, list(mapping)


@dataclass
class PairScore:
    """One prediction against its gold graph."""

    index: int
    matched: int
    predicted: int
    gold: int
    valid: bool = True
    problem: str | None = None
    optimal: bool | None = None  # None: hill-climbing only, not checked
    fine: dict[str, tuple[int, int, int]] | None = None  # component: (matched, pred, gold)

    @property
    def f1(self) -> float:
        return f_score(self.matched, self.predicted, self.gold)[2]


def score_pair(pred: penman.Graph | None, gold: penman.Graph, *, index: int = 0,
               restarts: int = 4, seed: int = 0, exact: bool = False,
               problem: str | None = None, fine: bool = False,
               texts: tuple[str | None, str | None] = (None, None),
               pred_triples: Triples | None = None) -> PairScore:
    """Score one pair; `pred=None` is an invalid prediction (zero matched, gold counted).

    `texts` are the prediction's and gold's text as the reference reads them from their
    files (`visempar.amr.lenient.as_read_from_file`); where given, their triples are the
    reference's reading of that text, else of the graph written on one line.
    `pred_triples` is that reading of the prediction when the caller already has it.

    The reference's hill-climbing runs first; with `exact`, branch and bound then proves
    its result optimal or improves it. With `fine`, the components of
    `visempar.scoring.fine` are scored too, each alignment with the same seeded restarts.
    """
    pred_text, gold_text = texts
    gold_text = gold_text or format_graph(gold, "oneline")
    pair_seed = seed * 1_000_003 + index
    proven: list[bool] = []

    def align(p: Triples, g: Triples) -> int:
        pool = candidate_pool(p, g)
        _, matched = best_match(p, g, random.Random(pair_seed), restarts, pool)
        if exact:
            matched, optimal = exact_match(*pool, matched)
            proven.append(optimal)
        return matched

    with reference_reader() as (smatch_amr, log):
        gold_triples = read_triples(smatch_amr, gold_text, "b")
        if gold_triples is None:
            raise CorpusError(f"gold graph {index + 1} cannot be read by the reference scorer "
                             f"({log.getvalue().strip()}): {gold_text}")
        if pred is None:
            problem, pred_triples = problem or "no prediction", None
        elif pred_triples is None:
            pred_triples = read_triples(smatch_amr, pred_text or format_graph(pred, "oneline"), "a")
            if pred_triples is None:
                problem = "the reference scorer cannot read it: " + log.getvalue().strip()
        components = (fine_counts(pred, gold, pred_triples, gold_triples, align) if fine
                      else None)
        gold_n = triple_total(gold_triples)
        if pred_triples is None:
            return PairScore(index, 0, 0, gold_n, False, problem, fine=components)
        if components:
            matched = components["smatch"][0]
        else:
            matched = align(pred_triples, gold_triples)
    return PairScore(index, matched, triple_total(pred_triples), gold_n,
                     optimal=proven[0] if exact else None, fine=components)


@dataclass
class SmatchReport:
    """Corpus-level (micro) Smatch and everything needed to trust it."""

    precision: float
    recall: float
    f1: float
    matched: int
    predicted_triples: int
    gold_triples: int
    pairs: int
    invalid: int
    mean_sentence_f1: float
    f1_ci95: tuple[float, float]
    restarts: int
    seed: int
    exact: bool
    alignment: str
    per_sentence: list[dict] = field(default_factory=list)
    fine: dict[str, dict] | None = None  # component: precision, recall, f1 and counts

    def to_dict(self) -> dict:
        return asdict(self)


def _describe_alignment(scores: Sequence[PairScore], restarts: int, seed: int,
                        exact: bool) -> str:
    climb = f"smatch hill-climbing (smart init + {restarts} random restarts, seed {seed})"
    if not exact:
        return climb
    unproven = sum(s.optimal is False for s in scores)
    return (f"exact (branch and bound after {climb}); "
            + (f"{unproven} pair(s) hit the search budget and keep the best found"
               if unproven else "every pair proven optimal"))


def summarize(scores: Sequence[PairScore], *, restarts: int = 4, seed: int = 0, exact: bool = False,
              bootstrap: int = 1000, fine: bool = False) -> SmatchReport:
    """The corpus figures of scored pairs (micro-averaged, with the bootstrap interval)."""
    m = sum(s.matched for s in scores)
    pt = sum(s.predicted for s in scores)
    gt = sum(s.gold for s in scores)
    p, r, f = f_score(m, pt, gt)
    return SmatchReport(
        precision=round(p, 4), recall=round(r, 4), f1=round(f, 4), matched=m,
        predicted_triples=pt, gold_triples=gt, pairs=len(scores),
        invalid=sum(not s.valid for s in scores),
        mean_sentence_f1=round(sum(s.f1 for s in scores) / len(scores), 4) if scores else 0.0,
        f1_ci95=bootstrap_ci([(s.matched, s.predicted, s.gold) for s in scores], bootstrap, seed), restarts=restarts, seed=seed, exact=exact,
        alignment=_describe_alignment(scores, restarts, seed, exact),
        per_sentence=[_row(s) for s in scores],
        fine=fine_totals(scores) if fine else None)


def _row(score: PairScore) -> dict:
    row = {**asdict(score), "f1": round(score.f1, 4)}
    if score.fine is None:
        del row["fine"]
    return row
