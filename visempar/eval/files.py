"""Scoring graph texts, and prediction files against gold files, with nothing dropped.

Both files are in the VLSP block format. The i-th prediction is scored against the i-th
gold graph, as the challenge does. Sentences are compared in a normal form (NFC, case,
spacing, `_` as space, trailing punctuation): systems append a `.` after `!` or keep a
`...`, and such lines are counted, not refused. Different block counts, or sentences that
differ at the same position beyond that form, are an error naming both places (failure
mode C4), unless `align="order"` asks for position alone.

Every prediction the reference scorer reads is scored with exactly the triples it gets
from the file's text; one that visempar's strict reader refuses is listed as read
leniently, with the reason. Only what the reference cannot read counts as empty.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import penman

from visempar.amr import parse_graph
from visempar.amr.concepts import ConceptStyle, normalize_concepts, spelling_counts
from visempar.amr.errors import AMRSyntaxError, CorpusError
from visempar.amr.io import Block, Example, iter_blocks, parse_block, read_corpus, read_text
from visempar.amr.lenient import as_read_from_file
from visempar.amr.repair import repair
from visempar.data.corpus import sentence_key
from visempar.eval.fine import Triples
from visempar.eval.smatch import SmatchReport, reference_triples, score_corpus

Align = Literal["sentences", "order"]


@dataclass
class Prediction:
    """One prediction's text as its file holds it, and how the two readers take it."""

    text: str
    graph: penman.Graph | None  # visempar's strict reading
    problem: str | None  # why visempar's strict reader refused the graph
    triples: Triples | None  # the reference scorer's reading; None when it cannot read it
    block: Block | None = None

    @property
    def readable(self) -> bool:
        return self.triples is not None


def read_prediction(text: str, block: Block | None = None, path: str = "<memory>") -> Prediction:
    """A prediction's text read both ways; nothing raises, a refusal is its problem."""
    try:
        graph, problem = (parse_block(block, path)[0].graph if block else parse_graph(text)), None
    except AMRSyntaxError as e:
        graph, problem = None, str(e)
    return Prediction(text, graph, problem, reference_triples(as_read_from_file(text)), block)


def read_predictions(path: str | Path) -> list[Prediction]:
    """Every block of a prediction file, in order; a malformed graph is kept as a problem."""
    return [read_prediction(b.graph_text, b, str(path)) for b in iter_blocks(read_text(path))]


def sentence_form(sentence: str) -> str:
    """The form in which a prediction's sentence must equal the gold's: `sentence_key`
    without trailing punctuation."""
    key = sentence_key(sentence)
    while key and (unicodedata.category(key[-1]).startswith("P") or key[-1].isspace()):
        key = key[:-1]
    return key


def gold_convention(golds) -> ConceptStyle:
    """How the gold spells multi-word concepts (space unless `_` is the majority)."""
    counts = spelling_counts(golds)
    return "underscore" if counts["underscore"] > counts["space"] else "space"


def check_alignment(preds: list[Prediction], golds: list[Example], pred_path: str,
                    gold_path: str, align: Align = "sentences") -> dict:
    """Counts of sentences that equal the gold's exactly, only in normal form, or not at all;
    a real mismatch is an error unless `align="order"`."""
    if align not in ("sentences", "order"):
        raise ValueError(f"align must be 'sentences' or 'order', not {align!r}")
    if len(preds) != len(golds):
        raise CorpusError(f"{pred_path} has {len(preds)} blocks but {gold_path} has "
                          f"{len(golds)}: predictions must be one block per gold graph, "
                          "in the same order")
    counts = {"same": 0, "same_in_normal_form": 0, "different": 0, "missing": 0}
    first_different = None
    for i, (p, g) in enumerate(zip(preds, golds)):
        if p.block.sentence is None or g.sentence is None:
            counts["missing"] += 1
        elif p.block.sentence == g.sentence:
            counts["same"] += 1
        elif sentence_form(p.block.sentence) == sentence_form(g.sentence):
            counts["same_in_normal_form"] += 1
        else:
            counts["different"] += 1
            if first_different is None:
                first_different = (
                    f"block {i + 1} is misaligned: {pred_path}:{p.block.line} has sentence "
                    f"{p.block.sentence!r} but {gold_path}:{g.line} has {g.sentence!r}")
    if first_different and align == "sentences":
        raise CorpusError(f"{first_different} ({counts['different']} such blocks; pass "
                          "--align order to score by position regardless)")
    return counts


def score_texts(predictions: Sequence[str], references: Sequence[str], *, restarts: int = 4,
                seed: int = 0, exact: bool = False, normalize: bool = False, fine: bool = False,
                bootstrap: int = 1000, gold_graphs: Sequence[penman.Graph] | None = None,
                parsed: Sequence[Prediction] | None = None) -> tuple[SmatchReport, dict]:
    """The one way visempar scores: graph texts as files hold them, the i-th prediction
    against the i-th reference, each read as the reference scorer reads it.

    The CLI on files, `evaluate --run`, the `evaluate` metric, dev Smatch in training and
    preflight all come here. A prediction the reference reads is scored with exactly its
    triples (listed as read leniently when visempar's strict reader refuses it); one it
    cannot read counts as empty, its gold triples still counted. `gold_graphs` and
    `parsed` skip reading again what a caller has already read.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    preds = list(parsed) if parsed is not None else [read_prediction(t) for t in predictions]
    golds = list(gold_graphs) if gold_graphs is not None else [_gold(t, i) for i, t in enumerate(references)]
    graphs = []
    for p in preds:  # a leniently read prediction's graph serves the fine components
        graphs.append(p.graph if p.graph is not None else
                      repair(p.text, None).graph if p.readable else None)
    respelled = 0
    if normalize:
        style = gold_convention(golds)
        for i, graph in enumerate(graphs):
            if graph is not None:
                new = normalize_concepts(graph, style)
                respelled += sum((Counter(t.target for t in graph.instances())
                                  - Counter(t.target for t in new.instances())).values())
                graphs[i] = new
    texts = [(None if normalize else as_read_from_file(p.text), as_read_from_file(g))
             for p, g in zip(preds, references)]
    report = score_corpus(graphs, golds, problems=[None if p.readable else p.problem for p in preds],
                          restarts=restarts, seed=seed, exact=exact, fine=fine, texts=texts,
                          bootstrap=bootstrap,
                          pred_triples=None if normalize else [p.triples for p in preds])
    for row, p in zip(report.per_sentence, preds):
        if p.readable and p.problem:
            row["read_leniently"] = p.problem
    extra = {"normalize_concepts": normalize, "concepts_respelled": respelled,
             "read_leniently": [{"index": r["index"], "reason": r["read_leniently"]}
                                for r in report.per_sentence if "read_leniently" in r],
             "invalid_predictions": [{"index": r["index"], "problem": r["problem"]}
                                     for r in report.per_sentence if not r["valid"]]}
    return report, extra


def _gold(text: str, index: int) -> penman.Graph:
    try:
        return parse_graph(text)
    except AMRSyntaxError as e:
        raise CorpusError(f"reference {index + 1} is not a valid graph: {e}") from None


def score_files(pred_path: str | Path, gold_path: str | Path, *, restarts: int = 4,
                seed: int = 0, exact: bool = False, normalize: bool = False,
                fine: bool = False, align: Align = "sentences") -> tuple[SmatchReport, dict]:
    """Smatch of a prediction file against a gold file (`score_texts` on their blocks),
    plus what was done to get it."""
    gold = read_corpus(gold_path)  # gold must be valid: an error names its line
    preds = read_predictions(pred_path)
    sentences = check_alignment(preds, gold.examples, str(pred_path), str(gold_path), align)
    report, scored = score_texts([p.text for p in preds], [g.text for g in gold.examples],
                                 restarts=restarts, seed=seed, exact=exact, normalize=normalize,
                                 fine=fine, gold_graphs=[g.graph for g in gold.examples], parsed=preds)
    for row, p in zip(report.per_sentence, preds):
        row["line"] = p.block.line
        row["sentence"] = p.block.sentence
    for listed in scored["read_leniently"] + scored["invalid_predictions"]:
        listed["line"] = preds[listed["index"]].block.line
    extra = {"predictions": str(pred_path), "gold": str(gold_path), "align": align,
             "sentences": sentences, **scored}
    return report, extra
