"""`visempar predict` and `visempar evaluate --run`: a run's graphs for sentences, scored.

The submission format is the challenge's: one `#::snt` + graph block per input line, in
input order, blank input lines included (they get the placeholder graph).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from visempar.amr.format import format_graph
from visempar.amr.errors import CorpusError
from visempar.amr.io import Corpus, read_text, write_blocks
from visempar.amr.repair import repair
from visempar.data.prompts import normalize_sentence
from visempar.eval.generate import (Loaded, Parsed, generate, generation_counts, path_counts,
                                    to_graph_result)
from visempar.model.device import compute_dtype
from visempar.reports import write_json


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


SAMPLE_TEMPERATURE, SAMPLE_TOP_P = 0.7, 0.95  # for --samples when the run decodes greedily


def predict(loaded: Loaded, sentences: Sequence[str], *, normalization: str | None = None,
            batch_size: int | None = None, stopping: bool = True, samples: int = 0,
            progress=None) -> Predictions:
    """Graphs for `sentences` (blank ones get the placeholder without generating). The
    prompt builder normalises each sentence as in training; `normalization` applies
    another spelling rule first, on request. With `samples`, that many sampled
    generations join the run's own, and per sentence the candidate with the highest mean
    Smatch to the others is kept (MBR, `visempar.eval.ensemble.select`)."""
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
    runs = [generated] + [generate(
        loaded.model, loaded.tokenizer, loaded.builder,
        [normalize_sentence(sentences[i], extra) if extra else sentences[i] for i in todo],
        batch_size=batch_size or cfg.generation_batch_size, budget=loaded.budget, stopping=stopping,
        do_sample=True, temperature=cfg.temperature if cfg.do_sample else SAMPLE_TEMPERATURE,
        top_p=cfg.top_p if cfg.do_sample else SAMPLE_TOP_P, seed=cfg.seed + k,
        compute_dtype=compute_dtype(cfg.compute_dtype)) for k in range(1, samples + 1)]
    seconds = time.perf_counter() - start
    generations = [""] * len(sentences)
    results = [Parsed(repair("").graph, "empty", ["no-graph"])] * len(sentences)
    for n, i in enumerate(todo):
        candidates = [to_graph_result(loaded.builder, run[n].text, cfg.concepts) for run in runs]
        best = _mbr(sentences[i], candidates, cfg.seed) if samples else 0
        generations[i], results[i] = runs[best][n].text, candidates[best]
    decoding = generation_counts([g for run in runs for g in run])
    return Predictions(list(sentences), results, generations, seconds,
                       {**decoding, "samples": samples} if samples else decoding)


def _mbr(sentence: str, candidates: Sequence[Parsed], seed: int) -> int:
    """The candidate with the highest expected Smatch, the greedy generation (the first)
    weighted as two samples."""
    from visempar.eval.ensemble import Plan, Sentence, normalized, select

    plan = Plan(normalized([2.0] + [1.0] * (len(candidates) - 1)), source="given")
    return select(Sentence(sentence, [c.graph for c in candidates]), plan, seed).chosen


def read_sentence_lines(path: str | Path) -> list[str]:
    """One sentence per line; the last line break does not make an extra sentence."""
    text = read_text(path)
    if not text.strip():
        raise CorpusError(f"{path}: no sentences (the file is empty)")
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def submission_blocks(preds: Predictions) -> list[str]:
    return [f"#::snt {s.strip()}\n{format_graph(r.graph)}" for s, r in zip(preds.sentences, preds.results)]


def write_submission(path: str | Path, preds: Predictions) -> None:
    write_blocks(path, [(s, format_graph(r.graph)) for s, r in zip(preds.sentences, preds.results)])


class PartialOutput:
    """A submission written as its blocks are finished, so that a crash or Ctrl-C loses
    at most the chunk in progress. Blocks go to `OUTPUT.partial`; `OUTPUT.partial.json`
    records how many bytes hold complete blocks, and of which input. The output file
    itself appears only when every block is written, in one rename."""

    def __init__(self, output: str | Path, sentences: Sequence[str]):
        self.output = Path(output).resolve() if Path(output).is_symlink() else Path(output)  # write through
        self.partial = self.output.with_name(self.output.name + ".partial")
        self.index = self.output.with_name(self.output.name + ".partial.json")
        self.input = hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()
        self.blocks = 0

    def start(self, resume: bool) -> int:
        """Blocks already done (with `resume`), after cutting off any half-written tail."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.index.exists():
            state = json.loads(self.index.read_text(encoding="utf-8"))
            if state["input"] != self.input:
                raise CorpusError(f"{self.partial}: was written for another input; remove it, or "
                                  "run without --resume to start again")
            with open(self.partial, "r+b") as fh:
                fh.truncate(state["bytes"])
            self.blocks = state["blocks"]
        else:
            self.partial.write_bytes(b"")
            self._commit()
        return self.blocks

    def append(self, blocks: Sequence[str]) -> None:
        text = "".join(("\n" if self.blocks + i else "") + b + "\n" for i, b in enumerate(blocks))
        with open(self.partial, "ab") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        self.blocks += len(blocks)
        self._commit()

    def _commit(self) -> None:
        write_json(self.index, {"input": self.input, "blocks": self.blocks,
                                "bytes": self.partial.stat().st_size}, indent=None)

    def finish(self) -> None:
        os.replace(self.partial, self.output)
        self.index.unlink()


def predict_chunks(loaded: Loaded, sentences: Sequence[str], *, start: int = 0,
                   normalization: str | None = None, batch_size: int | None = None,
                   chunk: int | None = None, samples: int = 0, progress=None) -> Iterator[Predictions]:
    """`predict` over `sentences[start:]` in chunks of input order (4 generation batches
    by default). The chunks are the same whatever `start`, so a file resumed at a chunk
    boundary, and the Python API, get exactly the graphs of one uninterrupted call."""
    batch = batch_size or loaded.config.generation_batch_size
    chunk = chunk or 4 * batch
    for first in range(start, len(sentences), chunk):
        yield predict(loaded, sentences[first:first + chunk], normalization=normalization,
                      batch_size=batch, samples=samples, progress=progress)


def predict_file(loaded: Loaded, sentences: Sequence[str], output: str | Path, *, resume: bool = False,
                 normalization: str | None = None, batch_size: int | None = None, chunk: int | None = None,
                 samples: int = 0, progress=None) -> tuple[Predictions, int]:
    """`predict_chunks`, each chunk written as it is done (`PartialOutput`); returns the
    predictions made by this call and the blocks resumed from an earlier one."""
    out = PartialOutput(output, sentences)
    done = out.start(resume)
    made = []
    for part in predict_chunks(loaded, sentences, start=done, normalization=normalization,
                               batch_size=batch_size, chunk=chunk, samples=samples, progress=progress):
        out.append(submission_blocks(part))
        made.append(part)
    out.finish()
    merged = Predictions([s for p in made for s in p.sentences], [r for p in made for r in p.results],
                         [g for p in made for g in p.generations], sum(p.seconds for p in made),
                         _sum_counts([p.decoding for p in made]))
    return merged, done


def _sum_counts(parts: Sequence[dict]) -> dict:
    stopped: Counter = Counter()
    for p in parts:
        stopped.update(p.get("stopped_by", {}))
    return {"tokens_generated": sum(p.get("tokens_generated", 0) for p in parts),
            "stopped_by": dict(stopped.most_common())}


def evaluate_run(loaded: Loaded, gold: Corpus, out_dir: Path, *, restarts: int = 4,
                 seed: int = 0, fine: bool = False, exact: bool = False, normalize: bool = False,
                 align: str = "sentences", samples: int = 0, progress=None) -> dict:
    """Predict the gold corpus's sentences, write them as a submission, and score that
    file exactly as `visempar evaluate --predictions` would."""
    from visempar.eval.files import score_files

    preds = predict(loaded, [e.sentence or "" for e in gold.examples], samples=samples, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_submission(out_dir / "predictions.txt", preds)
    report, extra = score_files(out_dir / "predictions.txt", gold, restarts=restarts, seed=seed,
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
    summary = {"run": str(loaded.run_dir), "gold": gold.path, "variant": loaded.config.variant,
               "precision": report.precision, "recall": report.recall, "f1": report.f1,
               "f1_ci95": report.f1_ci95, "mean_sentence_f1": report.mean_sentence_f1,
               "invalid": report.invalid, "read_leniently": len(extra["read_leniently"]),
               "alignment": report.alignment, "generation": preds.report()}
    if fine:
        summary["fine"] = report.fine
    write_json(out_dir / "per_sentence.json", {"summary": summary, "per_sentence": rows})
    write_json(out_dir / "summary.json", summary)
    return summary
