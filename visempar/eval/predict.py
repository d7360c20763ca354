"""`visempar predict` and `visempar evaluate --run`: a run's graphs for sentences, scored.

The submission format is the challenge's: one `#::snt` + graph block per input line, in
input order, blank input lines included (they get the placeholder graph).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from visempar.amr.format import format_graph
from visempar.amr.errors import CorpusError
from visempar.amr.io import read_corpus, read_text
from visempar.amr.repair import repair
from visempar.data.corpus import sample_path
from visempar.data.prompts import normalize_sentence
from visempar.eval.generate import (Loaded, Parsed, generate, generation_counts, path_counts,
                                    to_graph_result, write_report)
from visempar.model.device import compute_dtype


@dataclass
class Predictions:
    sentences: list[str]
    results: list[Parsed]
    generations: list[str]
    seconds: float
    decoding: dict

    def report(self) -> dict:
        n = len(self.results)
        return {"sentences": n, "seconds": round(self.seconds, 2),
                "sentences_per_second": round(n / self.seconds, 2) if self.seconds else None,
                **self.decoding, **path_counts(self.results)}


def predict(loaded: Loaded, sentences: Sequence[str], *, normalization: str | None = None,
            batch_size: int | None = None, stopping: bool = True, progress=None) -> Predictions:
    """Graphs for `sentences` (blank ones get the placeholder without generating). The
    prompt builder normalises each sentence as in training; `normalization` applies
    another spelling rule first, on request."""
    cfg = loaded.config
    extra = normalization if normalization and normalization != cfg.input_normalization else None
    todo = [i for i, s in enumerate(sentences) if s.strip()]
    start = time.perf_counter()
    generated = generate(loaded.model, loaded.tokenizer, loaded.builder,
                         [normalize_sentence(sentences[i], extra) if extra else sentences[i] for i in todo],
                         batch_size=batch_size or cfg.generation_batch_size, budget=loaded.budget,
                         stopping=stopping, do_sample=cfg.do_sample, num_beams=cfg.num_beams,
                         temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed,
                         compute_dtype=compute_dtype(cfg.compute_dtype), progress=progress)
    seconds = time.perf_counter() - start
    generations = [""] * len(sentences)
    results = [Parsed(repair("").graph, "empty", ["no-graph"])] * len(sentences)
    for i, g in zip(todo, generated):
        generations[i] = g.text
        results[i] = to_graph_result(loaded.builder, g.text, cfg.concepts)
    return Predictions(list(sentences), results, generations, seconds, generation_counts(generated))


def read_sentence_lines(path: str | Path) -> list[str]:
    """One sentence per line; the last line break does not make an extra sentence."""
    text = read_text(path)
    if not text.strip():
        raise CorpusError(f"{path}: no sentences (the file is empty)")
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def write_submission(path: str | Path, preds: Predictions) -> None:
    blocks = [f"#::snt {s.strip()}\n{format_graph(r.graph)}" for s, r in zip(preds.sentences, preds.results)]
    Path(path).write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def evaluate_run(loaded: Loaded, data: str | Path | None, out_dir: Path, *, restarts: int = 4,
                 seed: int = 0, fine: bool = False, exact: bool = False, normalize: bool = False,
                 align: str = "sentences", progress=None) -> dict:
    """Predict the gold file's sentences, write them as a submission, and score that file
    exactly as `visempar evaluate --predictions` would."""
    from visempar.eval.files import score_files

    gold_path = Path(data) if data else sample_path("test")
    gold = read_corpus(gold_path)
    preds = predict(loaded, [e.sentence or "" for e in gold.examples], progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_submission(out_dir / "predictions.txt", preds)
    report, extra = score_files(out_dir / "predictions.txt", gold_path, restarts=restarts, seed=seed,
                                fine=fine, exact=exact, normalize=normalize, align=align)
    rows = report.per_sentence
    for row, e, r, text in zip(rows, gold.examples, preds.results, preds.generations):
        row.update(sentence=e.sentence, line=e.line, path=r.path, repairs=r.repairs, generated=text)
    with open(out_dir / "per_sentence.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "line", "f1", "matched", "predicted", "gold", "path", "repairs", "sentence"])
        for row in rows:
            writer.writerow([row["index"], row["line"], row["f1"], row["matched"], row["predicted"],
                             row["gold"], row["path"], ";".join(row["repairs"]), row["sentence"]])
    summary = {"run": str(loaded.run_dir), "gold": str(gold_path), "variant": loaded.config.variant,
               "precision": report.precision, "recall": report.recall, "f1": report.f1,
               "f1_ci95": report.f1_ci95, "mean_sentence_f1": report.mean_sentence_f1,
               "invalid": report.invalid, "read_leniently": len(extra["read_leniently"]),
               "alignment": report.alignment, "generation": preds.report()}
    if fine:
        summary["fine"] = report.fine
    write_report(out_dir / "per_sentence.json", {"summary": summary, "per_sentence": rows})
    write_report(out_dir / "summary.json", summary)
    return summary
