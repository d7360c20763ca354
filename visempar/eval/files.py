"""Score a prediction file against a gold file, block by block, with nothing dropped.

Both files are in the VLSP block format. The i-th prediction is scored against the i-th
gold graph; different block counts, or sentences that differ at the same position, are an
error that names both places (failure mode C4), never a silently misaligned score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from visempar.amr.concepts import ConceptStyle, normalize_concepts, spelling_counts
from visempar.amr.errors import AMRSyntaxError, CorpusError
from visempar.amr.io import Block, Example, iter_blocks, parse_block, read_corpus, read_text
from visempar.data.corpus import sentence_key
from visempar.eval.smatch import SmatchReport, score_corpus


@dataclass
class Prediction:
    block: Block
    example: Example | None
    problem: str | None


def read_predictions(path: str | Path) -> list[Prediction]:
    """Every block of a prediction file, in order; a malformed graph is kept as a problem."""
    out = []
    for block in iter_blocks(read_text(path)):
        try:
            example, _ = parse_block(block, str(path))
            out.append(Prediction(block, example, None))
        except AMRSyntaxError as e:
            out.append(Prediction(block, None, str(e)))
    return out


def gold_convention(golds) -> ConceptStyle:
    """How the gold spells multi-word concepts (space unless `_` is the majority)."""
    counts = spelling_counts(golds)
    return "underscore" if counts["underscore"] > counts["space"] else "space"


def check_alignment(preds: list[Prediction], golds: list[Example], pred_path: str,
                    gold_path: str) -> None:
    if len(preds) != len(golds):
        raise CorpusError(f"{pred_path} has {len(preds)} blocks but {gold_path} has "
                          f"{len(golds)}: predictions must be one block per gold graph, "
                          "in the same order")
    for i, (p, g) in enumerate(zip(preds, golds)):
        if p.block.sentence is None or g.sentence is None:
            continue
        if sentence_key(p.block.sentence) != sentence_key(g.sentence):
            raise CorpusError(
                f"block {i + 1} is misaligned: {pred_path}:{p.block.line} has sentence "
                f"{p.block.sentence!r} but {gold_path}:{g.line} has {g.sentence!r}")


def score_files(pred_path: str | Path, gold_path: str | Path, *, restarts: int = 4,
                seed: int = 0, exact: bool = False, normalize: bool = False,
                fine: bool = False) -> tuple[SmatchReport, dict]:
    """Smatch of a prediction file against a gold file, plus what was done to get it."""
    gold = read_corpus(gold_path)  # gold must be valid: an error names its line
    preds = read_predictions(pred_path)
    check_alignment(preds, gold.examples, str(pred_path), str(gold_path))
    graphs = [p.example.graph if p.example else None for p in preds]
    respelled = 0
    if normalize:
        style = gold_convention([g.graph for g in gold])
        for i, graph in enumerate(graphs):
            if graph is not None:
                new = normalize_concepts(graph, style)
                respelled += sum((Counter(t.target for t in graph.instances())
                                  - Counter(t.target for t in new.instances())).values())
                graphs[i] = new
    report = score_corpus(graphs, [g.graph for g in gold], problems=[p.problem for p in preds],
                          restarts=restarts, seed=seed, exact=exact, fine=fine)
    for row, p in zip(report.per_sentence, preds):
        row["line"] = p.block.line
        row["sentence"] = p.block.sentence
    extra = {"predictions": str(pred_path), "gold": str(gold_path),
             "normalize_concepts": normalize, "concepts_respelled": respelled,
             "invalid_predictions": [{"index": r["index"], "line": r["line"],
                                      "problem": r["problem"]}
                                     for r in report.per_sentence if not r["valid"]]}
    return report, extra
