"""Combining several systems' graphs of the same sentences: selection and voting.

- `select` (minimum Bayes risk): per sentence, the candidate with the highest mean Smatch
  to the other candidates; ties go to the earlier input.
- `merge` (after Graphene, Hoang et al. 2021): each candidate in turn is the pivot; the
  others are aligned to it with the reference's Smatch search; a triple of the pivot is
  kept when at least half of the candidates hold it (the pivot counts), and a triple the
  pivot lacks, on aligned nodes, is added when more than half hold it (with two inputs,
  nothing is added: the merge is then a selection). A node keeps its most supported
  concept. Of the merged graphs, the one with the highest mean Smatch to the candidates
  is taken. Nodes the others never align to stay
  as the pivot has them; a graph that would fall apart keeps only what hangs on its root.

Candidates are read by `read_candidates`: each file's blocks matched to the first file's
by sentence in `evaluate`'s normal form (or by position), each graph repaired first, as
real model output needs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import penman

from visempar.amr.errors import CorpusError
from visempar.amr.format import format_graph
from visempar.amr.io import iter_blocks, read_text
from visempar.amr.repair import repair
from visempar.eval.files import sentence_form
from visempar.eval.smatch import align_triples, reference_triples
from visempar.eval.triples import f_score

Method = Literal["select", "merge"]


@dataclass
class Sentence:
    """One sentence and its candidates, one per input file, repaired."""

    text: str
    graphs: list[penman.Graph]
    scores: list[float] = field(default_factory=list)  # mean Smatch to the other candidates
    chosen: int = 0  # the candidate kept (select) or the pivot of the kept merge
    graph: penman.Graph | None = None


def read_candidates(paths: Sequence[str | Path], align: str = "sentences") -> list[Sentence]:
    """The sentences of the first file, in order, with every file's graph for each."""
    files = [list(iter_blocks(read_text(p))) for p in paths]
    first = files[0]
    if not first:
        raise CorpusError(f"{paths[0]}: no sentence/graph blocks found (empty file?)")
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
    return [Sentence(b.sentence or "", [repair(col[i]).graph for col in columns])
            for i, b in enumerate(first)]


def _triples(graph: penman.Graph):
    return reference_triples(format_graph(graph, "oneline"))


def _pair_f1(a, b, seed: int) -> float:
    if a is None or b is None:
        return 0.0
    matched, _ = align_triples(a, b, seed=seed)
    return f_score(matched, _count(a), _count(b))[2]


def _count(triples) -> int:
    return sum(len(part) for part in triples)


def mean_agreement(candidate, others, seed: int = 0) -> float:
    """Mean Smatch F1 of `candidate` (reference triples) to each of `others`."""
    scores = [_pair_f1(candidate, o, seed) for o in others]
    return sum(scores) / len(scores) if scores else 0.0


def select(sentence: Sentence, seed: int = 0) -> Sentence:
    triples = [_triples(g) for g in sentence.graphs]
    sentence.scores = [mean_agreement(t, triples[:i] + triples[i + 1:], seed) for i, t in enumerate(triples)]
    sentence.chosen = max(range(len(triples)), key=lambda i: (sentence.scores[i], -i))
    sentence.graph = sentence.graphs[sentence.chosen]
    return sentence


def merge(sentence: Sentence, seed: int = 0) -> Sentence:
    triples = [_triples(g) for g in sentence.graphs]
    merged = [vote(sentence.graphs, triples, pivot, seed) for pivot in range(len(triples))]
    scored = [mean_agreement(_triples(m), triples, seed) for m in merged]
    sentence.scores = scored
    sentence.chosen = max(range(len(merged)), key=lambda i: (scored[i], -i))
    sentence.graph = merged[sentence.chosen]
    return sentence


def _key(value: str) -> str:
    """Constants and concepts compared as the reference compares them."""
    return value.strip('"').lower().replace("_", "").replace(" ", "")


def vote(graphs: Sequence[penman.Graph], triples, pivot: int, seed: int = 0) -> penman.Graph:
    """The pivot graph with the triples at least half of `graphs` support (see the module
    docstring); `triples` are the graphs' reference triples, node order = instance order."""
    base = graphs[pivot]
    names = [t.source for t in base.instances()]
    need = len(graphs) / 2
    support: Counter = Counter()
    for k, (graph, tri) in enumerate(zip(graphs, triples)):
        if tri is None or triples[pivot] is None:
            continue
        variables = [t.source for t in graph.instances()]
        if k == pivot:
            to_pivot = {v: v for v in variables}
        else:
            _, mapping = align_triples(tri, triples[pivot], seed=seed)
            to_pivot = {variables[j]: names[m] for j, m in enumerate(mapping)
                        if m >= 0 and j < len(variables) and m < len(names)}
        seen = set()
        for s, role, t in graph.triples:
            if s not in to_pivot:
                continue
            if role == ":instance":
                item = (to_pivot[s], role, _key(t))
            elif t in to_pivot:
                item = (to_pivot[s], role, to_pivot[t])
            elif t in variables:
                continue  # an edge to a node the pivot lacks
            else:
                item = (to_pivot[s], role, _key(t))
            if item not in seen:
                seen.add(item)
                support[item] += 1
    spelled = {(s, r, _key(t) if r == ":instance" or t not in names else t): t for s, r, t in base.triples}
    for graph in graphs:  # the spelling of what is added from the others
        for s, r, t in graph.triples:
            if r == ":instance" or t not in {x.source for x in graph.instances()}:
                spelled.setdefault(("*", r, _key(t)), t)
    own = {(s, r, _key(t) if r == ":instance" or t not in names else t) for s, r, t in base.triples}
    kept = [item for item, votes in support.items()
            if (votes >= need if item in own else votes > need) and item[1] != ":instance"]
    concept = {}
    for (s, r, c), votes in sorted(support.items(), key=lambda kv: (kv[0] not in own, str(kv[0]))):
        if r == ":instance" and votes >= need and votes > concept.get(s, (None, 0))[1]:
            concept[s] = (c, votes)
    kept += [(s, ":instance", c) for s, (c, _) in concept.items()]
    instances = set(concept)
    if base.top not in instances:
        return base
    out = []
    for s, r, t in kept:
        if s not in instances or (r != ":instance" and t in names and t not in instances):
            continue
        original = spelled.get((s, r, t), spelled.get(("*", r, t), t))
        out.append((s, r, original if r == ":instance" or t not in names else t))
    return _connected(out, base.top) or base


def _connected(triples: list, top: str) -> penman.Graph | None:
    """The triples that hang on `top` (edges read both ways), as a graph; None if that fails."""
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
    graph = penman.Graph([t for t in triples if t[0] in reach], top=top)
    try:
        penman.encode(graph)
    except Exception:  # penman cannot lay it out: keep the pivot instead
        return None
    return graph


def combine(sentences: list[Sentence], method: Method, seed: int = 0) -> list[Sentence]:
    step = select if method == "select" else merge
    return [step(s, seed) for s in sentences]


def wins(sentences: Sequence[Sentence], inputs: int) -> list[int]:
    """How many sentences took each input's graph (select) or pivot (merge)."""
    counts = Counter(s.chosen for s in sentences)
    return [counts.get(i, 0) for i in range(inputs)]


def ensemble_files(paths: Sequence[str | Path], output: str | Path, method: Method = "select", *,
                   align: str = "sentences", seed: int = 0, gold: str | Path | None = None) -> dict:
    """Combine prediction files into `output` (written in one rename) and report what was
    chosen; with `gold`, every input and the result are scored too."""
    import time

    from visempar.eval.files import score_files

    if len(paths) < 2:
        raise CorpusError("an ensemble needs at least two prediction files")
    start = time.perf_counter()
    sentences = combine(read_candidates(paths, align), method, seed)
    seconds = time.perf_counter() - start
    tmp = Path(f"{output}.partial")
    tmp.write_text("\n\n".join(f"#::snt {s.text}\n{format_graph(s.graph)}" for s in sentences) + "\n",
                   encoding="utf-8")
    tmp.replace(output)
    report = {"inputs": [str(p) for p in paths], "output": str(output), "method": method,
              "sentences": len(sentences), "seconds": round(seconds, 2),
              "wins": dict(zip(map(str, paths), wins(sentences, len(paths)))),
              "per_sentence": [{"index": i, "sentence": s.text, "chosen": s.chosen,
                                "agreement": [round(x, 4) for x in s.scores]} for i, s in enumerate(sentences)]}
    if gold:
        report["scores"] = {}
        for path in [*paths, output]:
            scored, _ = score_files(path, gold, seed=seed, align=align)
            report["scores"][str(path)] = {"precision": scored.precision, "recall": scored.recall,
                                           "f1": scored.f1, "invalid": scored.invalid}
    return report
