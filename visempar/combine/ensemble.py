"""Combining several systems' graphs of the same sentences, weighted by system strength.

Real ensembles mix systems of unequal strength (a 14B and a 7B model, two checkpoints, a
greedy and a sampled decoding). An unweighted vote then follows whichever weaker systems
agree with each other and can fall below the strongest input. So every method here works
from a `Plan`: one weight per system, the pivot (the heaviest system), and thresholds.

- `select` (weighted minimum Bayes risk): per sentence, the candidate with the highest
  expected Smatch under the system weights, its own system included; it replaces the
  pivot's graph only when it beats the pivot's by more than `margin`.
- `merge` (after Graphene, Hoang et al. 2021, weighted): the other candidates are aligned
  to the pivot with the reference's Smatch search and their triples vote with their
  system's weight. A pivot triple stays while its support is at least `keep` (a share of
  the total weight; 0 unless tuned on dev, so the pivot's triples stay), a triple the
  pivot lacks is added on aligned nodes when its support exceeds `add` (0.5); a node keeps
  its best supported concept. A graph that would fall apart
  keeps only what hangs on its root.

Weights come from the user, from the same systems' outputs on a dev set with its gold
(`tune`: dev F1 as weights, thresholds chosen on dev, "pivot alone" among the choices, so
the plan never does worse than the best input on dev), or, with neither, from how much
each system agrees with the others over the whole file (`agreement_weights`).

Candidates are read by `read_candidates`: each file's blocks matched to the first file's
by sentence in `evaluate`'s normal form (or by position), each graph repaired first, as
real model output needs.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import penman

from visempar.amr.errors import CorpusError
from visempar.amr.format import format_graph
from visempar.amr.io import read_blocks, submission_block, write_blocks
from visempar.amr.repair import repair
from visempar.data.lexicon import Lexicon
from visempar.errors import VisemparError
from visempar.passes import NO_PASSES, Passes, run_passes
from visempar.scoring.files import Align, sentence_form
from visempar.scoring.smatch import align_triples
from visempar.scoring.triples import f_score, reference_triples, symbol_key, triple_total

Method = Literal["select", "merge"]
MARGINS = (0.0, 0.02, 0.05, 0.1, math.inf)  # select: inf keeps the pivot's graph everywhere
KEEPS = (0.0, 0.25, 0.5)  # merge: 0 never drops a pivot triple
ADDS = (0.5, 0.6, 0.7, 0.8, 0.9, math.inf)  # merge: inf adds nothing
MIN_GAIN = 0.005  # a dev gain below half a point over the pivot alone is taken for noise


class EnsembleError(VisemparError, ValueError):
    """Weights or dev files that cannot be used; the message names them."""


@dataclass(frozen=True)
class Plan:
    """How candidates are combined: a weight per system (summing to 1) and thresholds."""

    weights: tuple[float, ...]
    margin: float = 0.0
    keep: float = 0.0  # without dev: the pivot's triples stay (dropping them lost 7 points on dev)
    add: float = 0.5
    source: str = "agreement"  # where the weights came from: given | dev | agreement

    @property
    def pivot(self) -> int:
        """The heaviest system (the first of equals)."""
        return max(range(len(self.weights)), key=lambda i: (self.weights[i], -i))

    def to_dict(self) -> dict:
        inf = lambda x: None if math.isinf(x) else x  # noqa: E731  (JSON has no infinity)
        return {"weights": [round(w, 4) for w in self.weights], "pivot": self.pivot, "source": self.source,
                "margin": inf(self.margin), "keep": self.keep, "add": inf(self.add)}


def normalized(weights: Sequence[float], where: str = "--weights") -> tuple[float, ...]:
    """`weights` scaled to sum 1; negative, non-finite or all-zero weights are an error."""
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise EnsembleError(f"{where}: weights must be finite and not negative, got {list(weights)}")
    total = sum(weights)
    if total <= 0:
        raise EnsembleError(f"{where}: at least one weight must be positive, got {list(weights)}")
    return tuple(w / total for w in weights)


@dataclass
class Sentence:
    """One sentence and its candidates, one per input file, repaired."""

    text: str
    graphs: list[penman.Graph]
    scores: list[float] = field(default_factory=list)  # expected Smatch of each candidate
    chosen: int = 0  # the candidate kept (select) or the pivot (merge)
    graph: penman.Graph | None = None
    contribution: dict = field(default_factory=dict)  # merge: kept, dropped, added per system
    _pairs: Pairs | None = field(default=None, repr=False, compare=False)  # alignments, once


def read_candidates(paths: Sequence[str | Path], align: Align = "sentences") -> list[Sentence]:
    """The sentences of the first file, in order, with every file's graph for each."""
    files = [read_blocks(p) for p in paths]
    first = files[0]
    columns = [[b.graph_text for b in first]]
    for path, blocks in zip(paths[1:], files[1:]):
        if len(blocks) != len(first):
            raise CorpusError(f"{path} has {len(blocks)} blocks but {paths[0]} has {len(first)}")
        if align == "order":
            columns.append([b.graph_text for b in blocks])
            continue
        by_form: dict[str, list] = defaultdict(list)
        for b in blocks:
            by_form[sentence_form(b.sentence or "")].append(b)
        column = []
        for b in first:
            same = by_form.get(sentence_form(b.sentence or ""))
            if not same:
                raise CorpusError(f"{path}: no block for the sentence {b.sentence!r} of {paths[0]}:{b.line} "
                                  "(pass --align order to match blocks by position)")
            column.append(same.pop(0).graph_text)
        columns.append(column)
    return [Sentence(b.sentence or "", [repair(col[i], None).graph for col in columns])  # spelled as written
            for i, b in enumerate(first)]


def _triples(graph: penman.Graph):
    return reference_triples(format_graph(graph, "oneline"))


class Pairs:
    """Every candidate's reference triples and its alignment to every other candidate,
    computed once per sentence and shared by every plan tried on it."""

    def __init__(self, graphs: Sequence[penman.Graph], seed: int = 0):
        self.triples = [_triples(g) for g in graphs]
        n = len(graphs)
        self.mapping: dict[tuple[int, int], list[int]] = {}
        self.f1 = [[1.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                a, b = self.triples[i], self.triples[j]
                if a is None or b is None:
                    self.f1[i][j] = 0.0
                    continue
                matched, mapping = align_triples(a, b, seed=seed)
                self.mapping[i, j] = mapping
                self.f1[i][j] = f_score(matched, triple_total(a), triple_total(b))[2]


def pairs(sentence: Sentence, seed: int = 0) -> Pairs:
    if sentence._pairs is None:
        sentence._pairs = Pairs(sentence.graphs, seed)
    return sentence._pairs


def expected_scores(sentence: Sentence, weights: Sequence[float], seed: int = 0) -> list[float]:
    """Each candidate's expected Smatch F1 when the truth is system j's graph with
    probability `weights[j]` (its own system included, at F1 1)."""
    f1 = pairs(sentence, seed).f1
    return [sum(w * f1[i][j] for j, w in enumerate(weights)) for i in range(len(weights))]


def select(sentence: Sentence, plan: Plan, seed: int = 0) -> Sentence:
    scores = expected_scores(sentence, plan.weights, seed)
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    pivot = plan.pivot
    sentence.scores = scores
    sentence.chosen = best if scores[best] - scores[pivot] > plan.margin else pivot
    sentence.graph = sentence.graphs[sentence.chosen]
    return sentence


def merge(sentence: Sentence, plan: Plan, seed: int = 0) -> Sentence:
    pivot = plan.pivot
    graph, contribution = vote(sentence.graphs, pairs(sentence, seed), pivot, plan)
    sentence.scores = expected_scores(sentence, plan.weights, seed)
    sentence.chosen, sentence.graph, sentence.contribution = pivot, graph, contribution
    return sentence


def vote(graphs: Sequence[penman.Graph], aligned: Pairs, pivot: int, plan: Plan) -> tuple[penman.Graph, dict]:
    """The pivot graph after the weighted vote (see the module docstring), and what each
    system contributed: the pivot's triples kept and dropped, the triples each system
    held among those added. Node order = instance order, as the reference reads them."""
    triples, weights = aligned.triples, plan.weights
    base = graphs[pivot]
    names = [t.source for t in base.instances()]
    support: dict[tuple, float] = defaultdict(float)
    holders: dict[tuple, set[int]] = defaultdict(set)
    for k, graph in enumerate(graphs):
        if triples[k] is None or triples[pivot] is None:
            continue
        variables = [t.source for t in graph.instances()]
        if k == pivot:
            to_pivot = {v: v for v in variables}
        else:
            mapping = aligned.mapping[k, pivot]
            to_pivot = {variables[j]: names[m] for j, m in enumerate(mapping)
                        if m >= 0 and j < len(variables) and m < len(names)}
        for s, role, t in graph.triples:
            if s not in to_pivot:
                continue
            if role == ":instance":
                item = (to_pivot[s], role, symbol_key(t, raw=True))
            elif t in to_pivot:
                item = (to_pivot[s], role, to_pivot[t])
            elif t in variables:
                continue  # an edge to a node the pivot lacks
            else:
                item = (to_pivot[s], role, symbol_key(t, raw=True))
            if k not in holders[item]:
                holders[item].add(k)
                support[item] += weights[k]
    spelled = {(s, r, symbol_key(t, raw=True) if r == ":instance" or t not in names else t): t for s, r, t in base.triples}
    for graph in graphs:  # the spelling of what is added from the others
        for _, r, t in graph.triples:
            if r == ":instance" or t not in {x.source for x in graph.instances()}:
                spelled.setdefault(("*", r, symbol_key(t, raw=True)), t)
    own = {(s, r, symbol_key(t, raw=True) if r == ":instance" or t not in names else t) for s, r, t in base.triples}
    eps = 1e-9
    stays = lambda item, votes: votes >= plan.keep - eps if item in own else votes > plan.add + eps  # noqa: E731
    kept = {item for item, votes in support.items() if item[1] != ":instance" and stays(item, votes)}
    concept: dict[str, tuple[str, float]] = {}
    for (s, r, c), votes in sorted(support.items(), key=lambda kv: (kv[0] not in own, str(kv[0]))):
        if r == ":instance" and stays((s, r, c), votes) and votes > concept.get(s, (None, -1.0))[1]:
            concept[s] = (c, votes)
    kept |= {(s, ":instance", c) for s, (c, _) in concept.items()}
    if base.top not in concept:
        return base, _contribution(own, own, holders, len(graphs), pivot)
    if kept == own:  # nothing outvoted, nothing added: the pivot as written, layout and all
        return base, _contribution(own, own, holders, len(graphs), pivot)
    usable = lambda s, r, t: s in concept and (r == ":instance" or t not in names or t in concept)  # noqa: E731
    out, layout = [], {}
    for triple in base.triples:  # the pivot's own triples first, in its order and layout
        s, r, t = triple
        item = (s, r, symbol_key(t, raw=True) if r == ":instance" or t not in names else t)
        if r == ":instance" and item not in kept and s in concept:  # another system's concept won
            item = (s, r, concept[s][0])
            triple = (s, r, spelled.get(item, spelled.get(("*", r, item[2]), item[2])))
        if item in kept and usable(s, r, t):
            out.append(triple)
            layout[triple] = base.epidata.get(triple, [])
    for item in sorted(kept - own, key=str):  # then what the others add
        s, r, t = item
        if r != ":instance" and usable(s, r, t):
            out.append((s, r, t if t in names else spelled.get(("*", r, t), t)))
    merged = _connected(out, base.top, layout)
    if merged is None:
        return base, _contribution(own, own, holders, len(graphs), pivot)
    final = {(s, r, symbol_key(t, raw=True) if r == ":instance" or t not in names else t) for s, r, t in merged.triples}
    return merged, _contribution(own, final, holders, len(graphs), pivot)


def _contribution(own: set, final: set, holders: dict, n: int, pivot: int) -> dict:
    added = final - own
    return {"kept": len(own & final), "dropped": len(own - final),
            "added": [sum(1 for item in added if k in holders.get(item, ())) if k != pivot else 0
                      for k in range(n)]}


def _connected(triples: list, top: str, layout: dict | None = None) -> penman.Graph | None:
    """The triples that hang on `top` (edges read both ways), as a graph keeping the
    pivot's `layout` where penman can lay it out so; None if it cannot lay them out."""
    links = defaultdict(set)
    variables = {s for s, r, _ in triples if r == ":instance"}
    for s, r, t in triples:
        if r != ":instance" and t in variables:
            links[s].add(t)
            links[t].add(s)
    reach, todo = {top}, [top]
    while todo:
        for nxt in links[todo.pop()] - reach:
            reach.add(nxt)
            todo.append(nxt)
    reached = [t for t in triples if t[0] in reach]
    for epidata in ({t: layout[t] for t in reached if t in layout} if layout else None, None):
        graph = penman.Graph(reached, top=top, epidata=epidata)
        try:
            penman.encode(graph)
            return graph
        except Exception:  # penman cannot lay it out so: try without the layout, else give up
            continue
    return None


def combine(sentences: list[Sentence], method: Method, plan: Plan, seed: int = 0) -> list[Sentence]:
    step = select if method == "select" else merge
    return [step(s, plan, seed) for s in sentences]


def agreement_weights(sentences: Sequence[Sentence], seed: int = 0) -> tuple[float, ...]:
    """Without dev gold: each system weighted by its mean Smatch to the other systems over
    all sentences (a system the others often confirm is more likely right)."""
    n = len(sentences[0].graphs)
    totals = [0.0] * n
    for sentence in sentences:
        f1 = pairs(sentence, seed).f1
        for i in range(n):
            totals[i] += sum(f1[i][j] for j in range(n) if j != i) / (n - 1)
    return normalized([t / len(sentences) for t in totals] if any(totals) else [1.0] * n, "agreement")


def tune(method: Method, dev: list[Sentence], gold: Sequence[penman.Graph], weights: tuple[float, ...] | None,
         seed: int = 0) -> tuple[Plan, dict]:
    """The plan for `method` chosen on a dev set: weights as given, else each system's dev
    F1; then the threshold(s) with the best dev F1, the more conservative on ties. The
    first choice keeps the pivot alone, and another is taken only when it gains at least
    `MIN_GAIN` on dev: small dev sets reward noise (tuned on half the real dev split without
    this rule, `select` lost 0.4 points on the other half)."""
    from visempar.scoring.files import score_texts

    def f1(graphs) -> float:
        report, _ = score_texts([format_graph(g) for g in graphs], [format_graph(g) for g in gold],
                                seed=seed, bootstrap=0, gold_graphs=list(gold), workers=1)
        return report.f1

    n = len(dev[0].graphs)
    inputs = [f1([s.graphs[k] for s in dev]) for k in range(n)]
    source = "given" if weights else "dev"
    if weights is None:
        weights = normalized(inputs, "dev F1") if any(inputs) else tuple([1 / n] * n)
    grid = ([Plan(weights, margin=m, source=source) for m in reversed(MARGINS)] if method == "select" else
            [Plan(weights, keep=k, add=a, source=source) for a in reversed(ADDS) for k in KEEPS])
    tried = []
    for plan in grid:
        tried.append((f1([s.graph for s in combine(dev, method, plan, seed)]), plan))
    best_f1, best = max(tried, key=lambda fp: fp[0])  # max keeps the first: the most conservative
    if best_f1 - tried[0][0] < MIN_GAIN:
        best_f1, best = tried[0]
    return best, {"dev_inputs_f1": [round(x, 4) for x in inputs], "dev_f1": round(best_f1, 4),
                  "dev_tried": [{**p.to_dict(), "f1": round(x, 4)} for x, p in tried]}


def wins(sentences: Sequence[Sentence], inputs: int) -> list[int]:
    """How many sentences took each input's graph (select) or pivot (merge)."""
    counts = Counter(s.chosen for s in sentences)
    return [counts.get(i, 0) for i in range(inputs)]


def ensemble_files(paths: Sequence[str | Path], output: str | Path, method: Method = "select", *,
                   align: Align = "sentences", seed: int = 0, gold: str | Path | None = None,
                   weights: Sequence[float] | None = None, dev: Sequence[str | Path] = (),
                   dev_gold: str | Path | None = None, passes: Passes = NO_PASSES,
                   fitted: Lexicon | None = None) -> dict:
    """Combine prediction files into `output` (written in one rename) and report what was
    chosen. The plan: `weights` as given; with `dev` files (the same systems on a dev set,
    in the same order) and `dev_gold`, tuned there (`tune`); else agreement weights. The
    combined graphs then go through the `passes` after decoding (with a run's `fitted`
    lexicon for those that read it). With `gold`, every input and the result are scored
    too, and `warning` says when the result is below its best input."""
    import time

    from visempar.scoring.files import score_files

    if len(paths) < 2:
        raise CorpusError("an ensemble needs at least two prediction files")
    if weights is not None and len(weights) != len(paths):
        raise EnsembleError(f"--weights: {len(weights)} weights for {len(paths)} prediction files")
    if bool(dev) != bool(dev_gold):
        raise EnsembleError("--dev and --dev-gold go together: the dev outputs of the same systems and their gold")
    if dev and len(dev) != len(paths):
        raise EnsembleError(f"--dev: {len(dev)} dev files for {len(paths)} prediction files "
                            "(one per system, in the same order)")
    given = normalized(weights) if weights is not None else None
    start = time.perf_counter()
    sentences = read_candidates(paths, align)
    tuning: dict = {}
    if dev and dev_gold is not None:
        from visempar.amr.io import read_corpus

        gold_dev = read_corpus(dev_gold)
        dev_sentences = read_candidates([dev_gold, *dev], align)
        golds = [e.graph for e in gold_dev.examples]
        for s in dev_sentences:  # the gold file led the matching; its column is not a system
            s.graphs = s.graphs[1:]
        plan, tuning = tune(method, dev_sentences, golds, given, seed)
    else:
        plan = Plan(given, source="given") if given else Plan(agreement_weights(sentences, seed))
    sentences = combine(sentences, method, plan, seed)
    changes = []
    for s in sentences:
        s.graph, changed = run_passes(passes, s.text, s.graph, fitted)
        changes.append(changed)
    seconds = time.perf_counter() - start
    write_blocks(output, [submission_block(s.text, format_graph(s.graph)) for s in sentences])
    report = {"inputs": [str(p) for p in paths], "output": str(output), "method": method,
              "sentences": len(sentences), "seconds": round(seconds, 2), "plan": plan.to_dict(), **tuning,
              "wins": dict(zip(map(str, paths), wins(sentences, len(paths)))),
              "per_sentence": [{"index": i, "sentence": s.text, "chosen": s.chosen,
                                "expected_f1": [round(x, 4) for x in s.scores], **s.contribution,
                                **({"passes": c} if c else {})}
                               for i, (s, c) in enumerate(zip(sentences, changes))]}
    if passes.switched_on():
        report["passes"] = {k: {"graphs": sum(k in c for c in changes), "changes": sum(c.get(k, 0) for c in changes)}
                            for k in passes.switched_on()}
    if method == "merge":
        report["contribution"] = {
            "pivot": str(paths[plan.pivot]),
            "kept": sum(s.contribution.get("kept", 0) for s in sentences),
            "dropped": sum(s.contribution.get("dropped", 0) for s in sentences),
            "added_by": {str(p): sum(s.contribution.get("added", [0] * len(paths))[k] for s in sentences)
                         for k, p in enumerate(paths)}}
    if gold:
        report["scores"] = {}
        for path in [*paths, output]:
            scored, _ = score_files(path, gold, seed=seed, align=align)
            report["scores"][str(path)] = {"precision": scored.precision, "recall": scored.recall,
                                           "f1": scored.f1, "invalid": scored.invalid}
        best = max(paths, key=lambda p: report["scores"][str(p)]["f1"])
        if report["scores"][str(output)]["f1"] < report["scores"][str(best)]["f1"]:
            report["warning"] = (f"the {method} ensemble (F1 {report['scores'][str(output)]['f1']:.4f}) is below "
                                 f"its best input {best} (F1 {report['scores'][str(best)]['f1']:.4f})")
    return report
