"""Score a prediction file against a gold file, block by block, with nothing dropped.

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
from typing import Literal

from visempar.amr.concepts import ConceptStyle, normalize_concepts, spelling_counts
from visempar.amr.errors import AMRSyntaxError, CorpusError
from visempar.amr.io import Block, Example, iter_blocks, parse_block, read_corpus, read_text
from visempar.amr.lenient import as_read_from_file
from visempar.amr.repair import repair
from visempar.data.corpus import sentence_key
from visempar.eval.smatch import SmatchReport, reference_triples, score_corpus

Align = Literal["sentences", "order"]


@dataclass
class Prediction:
    block: Block
    example: Example | None
    problem: str | None  # why visempar's strict reader refused the graph
    readable: bool  # whether the reference scorer reads it

    @property
    def text(self) -> str:
        """The graph's text as the reference reads it from the file."""
        return as_read_from_file(self.block.graph_text)


def read_predictions(path: str | Path) -> list[Prediction]:
    """Every block of a prediction file, in order; a malformed graph is kept as a problem."""
    out = []
    for block in iter_blocks(read_text(path)):
        try:
            example, _ = parse_block(block, str(path))
            problem = None
        except AMRSyntaxError as e:
            example, problem = None, str(e)
        readable = reference_triples(as_read_from_file(block.graph_text)) is not None
        out.append(Prediction(block, example, problem, readable))
    return out


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


def score_files(pred_path: str | Path, gold_path: str | Path, *, restarts: int = 4,
                seed: int = 0, exact: bool = False, normalize: bool = False,
                fine: bool = False, align: Align = "sentences") -> tuple[SmatchReport, dict]:
    """Smatch of a prediction file against a gold file, plus what was done to get it."""
    gold = read_corpus(gold_path)  # gold must be valid: an error names its line
    gold_blocks = list(iter_blocks(read_text(gold_path)))
    preds = read_predictions(pred_path)
    sentences = check_alignment(preds, gold.examples, str(pred_path), str(gold_path), align)
    graphs = []
    for p in preds:  # a leniently read prediction's graph serves the fine components
        graphs.append(p.example.graph if p.example else
                      repair(p.block.graph_text, None).graph if p.readable else None)
    texts = [(p.text if p.readable and not normalize else None,
              as_read_from_file(b.graph_text)) for p, b in zip(preds, gold_blocks)]
    respelled = 0
    if normalize:
        style = gold_convention([g.graph for g in gold])
        for i, graph in enumerate(graphs):
            if graph is not None:
                new = normalize_concepts(graph, style)
                respelled += sum((Counter(t.target for t in graph.instances())
                                  - Counter(t.target for t in new.instances())).values())
                graphs[i] = new
    report = score_corpus(graphs, [g.graph for g in gold],
                          problems=[None if p.readable else p.problem for p in preds],
                          restarts=restarts, seed=seed, exact=exact, fine=fine, texts=texts)
    for row, p in zip(report.per_sentence, preds):
        row["line"] = p.block.line
        row["sentence"] = p.block.sentence
        if p.readable and p.problem:
            row["read_leniently"] = p.problem
    extra = {"predictions": str(pred_path), "gold": str(gold_path),
             "normalize_concepts": normalize, "concepts_respelled": respelled,
             "align": align, "sentences": sentences,
             "read_leniently": [{"index": r["index"], "line": r["line"],
                                 "reason": r["read_leniently"]}
                                for r in report.per_sentence if "read_leniently" in r],
             "invalid_predictions": [{"index": r["index"], "line": r["line"],
                                      "problem": r["problem"]}
                                     for r in report.per_sentence if not r["valid"]]}
    return report, extra
