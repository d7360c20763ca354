"""Corpus-level Smatch that agrees with the challenge's reference scorer, deterministically.

The triples are the reference's own: each graph is written on one line and read by
`smatch` 1.0.4's parser (TOP triple, `-of` inversion, `:mod` as inverted `:domain`,
lower-casing, spaces deleted inside concepts, its handling of quotes). The alignment is
its hill-climbing too (`visempar.eval.hillclimb`, step for step the package's, faster),
with what made it unreliable removed (failure modes C3, C5):

- nothing is cached between pairs, so a score never depends on earlier pairs;
- its random restarts draw from a generator seeded per pair, so a file always gets the
  same score (the package re-seeds from the OS on every call);
- an empty, garbage or unreadable prediction scores zero matched triples while its gold
  triples still count, and is listed; nothing is dropped.
"""

from __future__ import annotations

import io
import math
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Sequence

import penman

from visempar.amr.errors import CorpusError
from visempar.amr.format import format_graph
from visempar.eval.exact import exact_alignment, exact_match
from visempar.eval.fine import fine_counts, fine_totals
from visempar.eval.hillclimb import best_match, candidate_pool, normalize
from visempar.eval.parallel import in_parallel
from visempar.eval.triples import Triples, f_score, triple_total


@contextmanager
def _reference_reader():
    """The reference's parser (`amr`, shipped with `smatch`) and its captured error log."""
    import amr as smatch_amr

    saved, log = smatch_amr.ERROR_LOG, io.StringIO()
    smatch_amr.ERROR_LOG = log
    try:
        yield smatch_amr, log
    finally:
        smatch_amr.ERROR_LOG = saved


def _parse(smatch_amr, text: str, prefix: str):
    try:
        parsed = smatch_amr.AMR.parse_AMR_line(text)
    except Exception as e:  # the package raises on some inputs (IndexError, KeyError)
        print(f"{type(e).__name__}: {e}", file=smatch_amr.ERROR_LOG)
        return None
    if parsed is None:
        return None
    parsed.rename_node(prefix)
    return parsed.get_triples()


def reference_triples(text: str):
    """(instances, attributes, relations) of one-line graph text as the reference reads it,
    or None when it cannot read it."""
    with _reference_reader() as (smatch_amr, _):
        return _parse(smatch_amr, text, "a")


def _spelling_free(triples: Triples) -> Triples:
    """Concepts with `_` and spaces alike (the reference already deletes spaces)."""
    instances, attributes, relations = triples
    return [(r, v, c.lower().replace("_", "")) for r, v, c in instances], attributes, relations


def kept_triples(source: str, result: str) -> tuple[int, int] | None:
    """How many of the triples the reference reads in `source` it also reads in `result`,
    as (kept, total); see `lost_triples`. None when the reference cannot read `source`."""
    account = _account(source, result)
    return None if account is None else (account[1] - len(account[0]), account[1])


def lost_triples(source: str, result: str) -> list[tuple[str, str, str]] | None:
    """The triples the reference reads in `source` but not in `result`, under the best
    variable mapping branch and bound finds (the reference's hill-climbing first; past its
    search budget, the best found, so a loss may be overstated, never hidden), with
    concept spelling ignored; each as (label, node's concept, value or other node's
    concept), so that a reader can tell which it is. None when the reference cannot
    read `source`."""
    account = _account(source, result)
    return None if account is None else account[0]


def _account(source: str, result: str) -> tuple[list[tuple[str, str, str]], int] | None:
    with _reference_reader() as (smatch_amr, _):
        src, out = _parse(smatch_amr, source, "b"), _parse(smatch_amr, result, "a")
    if src is None:
        return None
    total = triple_total(src)
    concept = {v: c for _, v, c in src[0]}
    named = ([(r, concept[v], c) for r, v, c in src[0]], [(r, concept[v], t) for r, v, t in src[1]],
             [(r, concept[x], concept[y]) for r, x, y in src[2]])
    if out is None:
        return [t for part in named for t in part], total
    src, out = _spelling_free(src), _spelling_free(out)
    pool = candidate_pool(out, src)
    start, matched = best_match(out, src, random.Random(0), 4, pool)
    _, _, mapping = exact_alignment(*pool, matched, start)
    at = {f"a{i}": f"b{j}" for i, j in enumerate(mapping) if j != -1}

    def key(label: str, *ends: str) -> tuple:
        return (normalize(label), *(normalize(e) for e in ends))

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
    return lost, total


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
    `visempar.eval.fine` are scored too, each alignment with the same seeded restarts.
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

    with _reference_reader() as (smatch_amr, log):
        gold_triples = _parse(smatch_amr, gold_text, "b")
        if gold_triples is None:
            raise CorpusError(f"gold graph {index + 1} cannot be read by the reference scorer "
                             f"({log.getvalue().strip()}): {gold_text}")
        if pred is None:
            problem, pred_triples = problem or "no prediction", None
        elif pred_triples is None:
            pred_triples = _parse(smatch_amr, pred_text or format_graph(pred, "oneline"), "a")
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


def bootstrap_ci(scores: Sequence[PairScore], samples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the corpus F1, resampling sentences."""
    if not scores or samples <= 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    counts = [(s.matched, s.predicted, s.gold) for s in scores]
    width = (len(counts) * max(max(c) for c in counts)).bit_length() + 1
    mask = (1 << width) - 1
    packed = [m | p << width | g << 2 * width for m, p, g in counts]  # one sum adds all three
    f1s = []
    for _ in range(samples):
        total = sum(rng.choices(packed, k=len(packed)))
        f1s.append(f_score(total & mask, total >> width & mask, total >> 2 * width)[2])
    f1s.sort()
    lo = f1s[max(0, math.floor((1 - level) / 2 * samples))]
    hi = f1s[min(samples - 1, math.ceil((1 + level) / 2 * samples) - 1)]
    return (round(lo, 4), round(hi, 4))


def score_corpus(preds: Sequence[penman.Graph | None], golds: Sequence[penman.Graph], *,
                 problems: Sequence[str | None] | None = None, restarts: int = 4,
                 seed: int = 0, exact: bool = False, bootstrap: int = 1000,
                 fine: bool = False,
                 texts: Sequence[tuple[str | None, str | None]] | None = None,
                 pred_triples: Sequence[Triples | None] | None = None,
                 workers: int | None = None) -> SmatchReport:
    """Micro-averaged Smatch over every pair; `None` predictions count as empty graphs.
    With `fine`, also the corpus-level components of `visempar.eval.fine`; `texts` and
    `pred_triples` as in `score_pair`, one per graph pair. Pairs are scored in `workers`
    processes (None: `parallel.default_workers`); each pair has its own seed, so the
    figures are the same whatever the number."""
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions for {len(golds)} gold graphs")
    problems = problems or [None] * len(preds)
    texts = texts or [(None, None)] * len(preds)
    pred_triples = pred_triples or [None] * len(preds)

    def score(i: int) -> PairScore:
        return score_pair(preds[i], golds[i], index=i, restarts=restarts, seed=seed, exact=exact,
                          problem=problems[i], fine=fine, texts=texts[i], pred_triples=pred_triples[i])

    return summarize(in_parallel(score, len(preds), workers), restarts=restarts, seed=seed,
                     exact=exact, bootstrap=bootstrap, fine=fine)


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
        f1_ci95=bootstrap_ci(scores, bootstrap, seed), restarts=restarts, seed=seed, exact=exact,
        alignment=_describe_alignment(scores, restarts, seed, exact),
        per_sentence=[_row(s) for s in scores],
        fine=fine_totals(scores) if fine else None)


def _row(score: PairScore) -> dict:
    row = {**asdict(score), "f1": round(score.f1, 4)}
    if score.fine is None:
        del row["fine"]
    return row
