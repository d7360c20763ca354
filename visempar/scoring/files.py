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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import penman

from visempar.amr import parse_graph
from visempar.amr.concepts import ConceptStyle, normalize_concepts, spelling_counts
from visempar.amr.format import format_graph
from visempar.amr.errors import AMRSyntaxError, CorpusError
from visempar.amr.io import Block, Corpus, Example, parse_block, read_blocks, read_corpus
from visempar.amr.lenient import as_read_from_file
from visempar.amr.repair import repair
from visempar.data.corpus import sentence_key
from visempar.scoring.parallel import in_parallel
from visempar.scoring.smatch import PairScore, SmatchReport, score_pair, summarize
from visempar.scoring.triples import Triples, reference_triples

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


def check_alignment(preds: Sequence[Block], golds: Sequence[Block | Example], pred_path: str,
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
        if p.sentence is None or g.sentence is None:
            counts["missing"] += 1
        elif p.sentence == g.sentence:
            counts["same"] += 1
        elif sentence_form(p.sentence) == sentence_form(g.sentence):
            counts["same_in_normal_form"] += 1
        else:
            counts["different"] += 1
            if first_different is None:
                first_different = (
                    f"block {i + 1} is misaligned: {pred_path}:{p.line} has sentence "
                    f"{p.sentence!r} but {gold_path}:{g.line} has {g.sentence!r}")
    if first_different and align == "sentences":
        raise CorpusError(f"{first_different} ({counts['different']} such blocks; pass "
                          "--align order to score by position regardless)")
    return counts


def score_texts(predictions: Sequence[str], references: Sequence[str], *, restarts: int = 4,
                seed: int = 0, exact: bool = False, normalize: bool = False, fine: bool = False,
                bootstrap: int = 1000, gold_graphs: Sequence[penman.Graph] | None = None,
                workers: int | None = None) -> tuple[SmatchReport, dict]:
    """Graph texts as files hold them, the i-th prediction against the i-th reference,
    each read as the reference scorer reads it.

    The `evaluate` metric, dev Smatch in training and preflight, and ensemble tuning come
    here; files (`score_files`: the CLI, `evaluate --run`) too, block by block; both
    score through `score_read`, the one scoring core. A prediction the reference reads is scored with exactly its
    triples (listed as read leniently when visempar's strict reader refuses it); one it
    cannot read counts as empty, its gold triples still counted. `gold_graphs` skips
    reading again what a caller has already read; pairs are scored in `workers`
    processes (`visempar.scoring.parallel`).
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    golds = gold_graphs
    if golds is None and normalize:  # the gold convention needs every gold graph first
        golds = [_gold(t, i) for i, t in enumerate(references)]
    return score_read(len(predictions), lambda i: read_prediction(predictions[i]),
                  (lambda i: golds[i]) if golds is not None else (lambda i: _gold(references[i], i)),
                  references, restarts=restarts, seed=seed, exact=exact, fine=fine,
                  bootstrap=bootstrap, workers=workers,
                  style=gold_convention(golds) if normalize else None)


def _gold(text: str, index: int) -> penman.Graph:
    try:
        return parse_graph(text)
    except AMRSyntaxError as e:
        raise CorpusError(f"reference {index + 1} is not a valid graph: {e}") from None


def score_read(n: int, read_pred, read_gold, references: Sequence[str], *, restarts: int, seed: int,
               exact: bool, fine: bool, bootstrap: int, workers: int | None,
               style: ConceptStyle | None) -> tuple[SmatchReport, dict]:
    """Read and score each pair (`read_pred(i)`, `read_gold(i)`) in `workers` processes,
    then the corpus figures. With `style`, predictions are respelled to it first."""

    def one(i: int) -> tuple[PairScore, str | None, int]:
        pred, gold = read_pred(i), read_gold(i)
        graph = (pred.graph if pred.graph is not None  # a leniently read one serves `fine`
                 else repair(pred.text, None).graph if pred.readable else None)
        respelled = 0
        if style and graph is not None:
            new = normalize_concepts(graph, style)
            respelled = sum((Counter(t.target for t in graph.instances())
                             - Counter(t.target for t in new.instances())).values())
            graph = new
        score = score_pair(graph, gold, index=i, restarts=restarts, seed=seed,
                           exact=exact, fine=fine, problem=None if pred.readable else pred.problem,
                           texts=(None if style else as_read_from_file(pred.text),
                                  as_read_from_file(references[i])),
                           pred_triples=None if style else pred.triples)
        return score, (pred.problem if pred.readable else None), respelled

    scored = in_parallel(one, n, workers)
    report = summarize([s for s, _, _ in scored], restarts=restarts, seed=seed, exact=exact,
                       bootstrap=bootstrap, fine=fine)
    for row, (_, lenient, _) in zip(report.per_sentence, scored):
        if lenient:
            row["read_leniently"] = lenient
    extra = {"normalize_concepts": style is not None, "concepts_respelled": sum(r for _, _, r in scored),
             "read_leniently": [{"index": r["index"], "reason": r["read_leniently"]}
                                for r in report.per_sentence if "read_leniently" in r],
             "invalid_predictions": [{"index": r["index"], "problem": r["problem"]}
                                     for r in report.per_sentence if not r["valid"]]}
    return report, extra


def score_files(pred_path: str | Path, gold_path: str | Path | Corpus, *, restarts: int = 4,
                seed: int = 0, exact: bool = False, normalize: bool = False,
                fine: bool = False, align: Align = "sentences",
                workers: int | None = None) -> tuple[SmatchReport, dict]:
    """Smatch of a prediction file against a gold file, or a gold corpus already read,
    plus what was done to get it. As `score_texts` on their blocks, with each graph read
    in the worker that scores it; a malformed gold graph is an error naming its line."""
    golds: Sequence[Block | Example]
    if isinstance(gold_path, Corpus) or normalize:  # the gold convention needs every graph first
        corpus = gold_path if isinstance(gold_path, Corpus) else read_corpus(gold_path)
        golds, gold_path = corpus.examples, corpus.path
        gold_texts = [g.text or format_graph(g.graph) for g in golds]
        read_gold = lambda i: golds[i].graph  # noqa: E731
    else:
        blocks = read_blocks(gold_path)
        golds, gold_texts = blocks, [b.graph_text for b in blocks]
        read_gold = lambda i: parse_block(blocks[i], str(gold_path))[0].graph  # noqa: E731
    preds = read_blocks(pred_path)
    sentences = check_alignment(preds, golds, str(pred_path), str(gold_path), align)
    style = gold_convention([read_gold(i) for i in range(len(golds))]) if normalize else None
    report, scored = score_read(len(preds), lambda i: read_prediction(preds[i].graph_text, preds[i], str(pred_path)),
                            read_gold, gold_texts, restarts=restarts, seed=seed, exact=exact, fine=fine,
                            bootstrap=1000, workers=workers, style=style)
    for row, p in zip(report.per_sentence, preds):
        row["line"] = p.line
        row["sentence"] = p.sentence
    for listed in scored["read_leniently"] + scored["invalid_predictions"]:
        listed["line"] = preds[listed["index"]].line
    extra = {"predictions": str(pred_path), "gold": str(gold_path), "align": align,
             "sentences": sentences, **scored}
    return report, extra
