"""`visempar predict` and `visempar evaluate --run`: a run's graphs for sentences, scored.

The submission format is the challenge's: one `#::snt` + graph block per input line, in
input order, blank input lines included (they get the placeholder graph).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from visempar.amr.errors import CorpusError
from visempar.amr.format import format_graph
from visempar.amr.io import Corpus, read_text, submission_block, write_blocks
from visempar.amr.repair import repair
from visempar.data.prompts import normalize_sentence
from visempar.infer.generate import Generated, generate, generation_counts
from visempar.infer.graphs import Parsed, path_counts, to_graph_result
from visempar.infer.load import Loaded
from visempar.locks import OutputLock
from visempar.passes import Passes
from visempar.reports import write_atomic, write_json


@dataclass
class Predictions:
    """Graphs for sentences, the text each came from, and every generation made for them
    (with `samples`, the sampled ones too)."""

    sentences: list[str]
    results: list[Parsed]
    generations: list[str]
    seconds: float
    generated: list[Generated]
    samples: int = 0

    def report(self) -> dict:
        n = len(self.results)
        return {"sentences": n, "seconds": round(self.seconds, 2),
                "sentences_per_second": round(n / self.seconds, 2) if self.seconds else None,
                **generation_counts(self.generated), **({"samples": self.samples} if self.samples else {}),
                **path_counts(self.results)}


SAMPLE_TEMPERATURE, SAMPLE_TOP_P = 0.7, 0.95  # for --samples when the run decodes greedily


def predict(loaded: Loaded, sentences: Sequence[str], *, normalization: str | None = None,
            batch_size: int | None = None, stopping: bool = True, samples: int = 0,
            progress=None) -> Predictions:
    """Graphs for `sentences` (blank ones get the placeholder without generating). The
    prompt builder normalises each sentence as in training; `normalization` applies
    another spelling rule first, on request. With `samples`, that many sampled
    generations join the run's own, and per sentence the candidate with the highest mean
    Smatch to the others is kept (MBR, `visempar.combine.ensemble.select`)."""
    cfg = loaded.config
    extra = normalization if normalization and normalization != cfg.input_normalization else None
    todo = [i for i, s in enumerate(sentences) if s.strip()]
    inputs = [normalize_sentence(sentences[i], extra) if extra else sentences[i] for i in todo]
    common = dict(batch_size=batch_size or cfg.generation_batch_size, budget=loaded.budget,
                  stopping=stopping, compute_dtype=loaded.compute_dtype)
    own = dict(do_sample=cfg.do_sample, num_beams=cfg.num_beams, temperature=cfg.temperature,
               top_p=cfg.top_p, seed=cfg.seed)
    sampled = [dict(do_sample=True, seed=cfg.seed + k,
                    temperature=cfg.temperature if cfg.do_sample else SAMPLE_TEMPERATURE,
                    top_p=cfg.top_p if cfg.do_sample else SAMPLE_TOP_P) for k in range(1, samples + 1)]
    start = time.perf_counter()
    runs = [generate(loaded.model, loaded.tokenizer, loaded.builder, inputs, **common, **settings,
                     progress=progress if k == 0 else None)
            for k, settings in enumerate([own, *sampled])]
    seconds = time.perf_counter() - start
    generations = [""] * len(sentences)
    results = [Parsed(repair("").graph, "blank")] * len(sentences)  # a blank line: the placeholder, no repair
    passes = Passes.of(cfg)
    for n, i in enumerate(todo):  # the passes read the sentence as given, in its one normal form
        candidates = [to_graph_result(loaded.builder, run[n].text, cfg.concepts, sentences[i], passes,
                                      loaded.lexicon) for run in runs]
        best = _mbr(sentences[i], candidates, cfg.seed) if samples else 0
        generations[i], results[i] = runs[best][n].text, candidates[best]
    return Predictions(list(sentences), results, generations, seconds,
                       [g for run in runs for g in run], samples)


def _mbr(sentence: str, candidates: Sequence[Parsed], seed: int) -> int:
    """The candidate with the highest expected Smatch, the greedy generation (the first)
    weighted as two samples."""
    from visempar.combine.ensemble import Plan, Sentence, normalized, select

    plan = Plan(normalized([2.0] + [1.0] * (len(candidates) - 1)), source="given")
    return select(Sentence(sentence, [c.graph for c in candidates]), plan, seed).chosen


_NOT_A_SENTENCE = re.compile(r"\s*(#\s*::\w|\(\s*[^\s()/]+\s+/\s)")  # a metadata line, a graph's first line


def read_sentence_lines(path: str | Path) -> list[str]:
    """One sentence per line; the last line break does not make an extra sentence. A
    corpus file (metadata or graph lines) is refused: each of its lines would be parsed
    as a sentence."""
    text = read_text(path)
    if not text.strip():
        raise CorpusError(f"{path}: no sentences (the file is empty)")
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if _NOT_A_SENTENCE.match(line):
            raise CorpusError(f"{path}:{number}: {line.strip()[:40]!r} is a graph file's line, not a "
                              "sentence; predict takes one sentence per line (to parse a corpus's "
                              "sentences and score them, use `visempar evaluate --run RUN --data FILE`)")
    return lines[:-1] if lines[-1] == "" else lines


def submission_blocks(preds: Predictions) -> list[str]:
    return [submission_block(s, format_graph(r.graph)) for s, r in zip(preds.sentences, preds.results)]


def write_submission(path: str | Path, preds: Predictions) -> None:
    write_blocks(path, submission_blocks(preds))


class PartialOutput:
    """A submission written as its blocks are finished, so that a crash or Ctrl-C loses
    at most the chunk in progress. Blocks go to `OUTPUT.partial`; `OUTPUT.partial.json`
    records how many bytes hold complete blocks, of which input, and made how (`source`:
    the run and the settings that shape the graphs), so that a resume never joins two
    models' outputs. The output file itself appears only when every block is written, in
    one rename."""

    def __init__(self, output: str | Path, sentences: Sequence[str], source: str = ""):
        self.output = Path(output).resolve() if Path(output).is_symlink() else Path(output)  # write through
        self.partial = self.output.with_name(self.output.name + ".partial")
        self.index = self.output.with_name(self.output.name + ".partial.json")
        self.input = hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()
        self.source = source
        self.blocks = 0

    def start(self, resume: bool) -> int:
        """Blocks already done (with `resume`), after cutting off any half-written tail."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.index.exists():
            state = json.loads(self.index.read_text(encoding="utf-8"))
            if state["input"] != self.input:
                raise CorpusError(f"{self.partial}: was written for another input; remove it, or "
                                  "run without --resume to start again")
            if state.get("source", "") != self.source:
                raise CorpusError(f"{self.partial}: was written by {state.get('source') or 'another run'}, "
                                  f"not {self.source}; resume with that run and settings, or run "
                                  "without --resume to start again")
            if self.partial.stat().st_size < state["bytes"]:
                raise CorpusError(f"{self.partial}: shorter ({self.partial.stat().st_size} bytes) than the "
                                  f"{state['bytes']} its index records; run without --resume to start again")
            with open(self.partial, "r+b") as fh:
                fh.truncate(state["bytes"])
            self.blocks = state["blocks"]
        else:
            self.partial.write_bytes(b"")
            self._commit()
        return self.blocks

    def append(self, blocks: Sequence[str]) -> None:
        """Add finished blocks; on a failed write (a full disk) the tail is cut back to the
        last complete block, so `--resume` goes on from there."""
        text = "".join(("\n" if self.blocks + i else "") + b for i, b in enumerate(blocks))
        done = self.partial.stat().st_size
        try:
            with open(self.partial, "ab") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            with open(self.partial, "r+b") as fh:
                fh.truncate(done)
            raise OSError(e.errno, f"{e.strerror or e}; the {self.blocks} blocks finished before are kept: "
                                   "make room, then run the same command with --resume",
                          str(self.partial)) from None
        self.blocks += len(blocks)
        self._commit()

    def _commit(self) -> None:
        write_json(self.index, {"input": self.input, "source": self.source, "blocks": self.blocks,
                                "bytes": self.partial.stat().st_size}, indent=None)

    def discard_if_empty(self) -> None:
        """After a failure before any block was kept, leave nothing behind: there is
        nothing to resume."""
        if self.blocks == 0:
            self.partial.unlink(missing_ok=True)
            self.index.unlink(missing_ok=True)

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
                 samples: int = 0, progress=None, log=print) -> tuple[Predictions, int]:
    """`predict_chunks`, each chunk written as it is done (`PartialOutput`), by one
    process at a time (`visempar.locks`); returns the predictions made by this call and
    the blocks resumed from an earlier one."""
    batch = batch_size or loaded.config.generation_batch_size
    source = (f"run {loaded.run_dir.resolve() if loaded.run_dir else '<memory>'} "
              f"(config {loaded.config.hash()}, samples {samples}, normalization {normalization or 'run'}, "
              f"batch {batch}, chunk {chunk or 4 * batch})")  # the batches shape bf16 results: a resume keeps them
    out = PartialOutput(output, sentences, source)
    made = []
    with OutputLock(out.output.with_name(out.output.name + ".lock"), f"output {output}", log):
        try:
            done = out.start(resume)
            for part in predict_chunks(loaded, sentences, start=done, normalization=normalization,
                                       batch_size=batch_size, chunk=chunk, samples=samples, progress=progress):
                out.append(submission_blocks(part))
                made.append(part)
            out.finish()
        except BaseException:
            out.discard_if_empty()
            raise
    return merged(made, samples), done


def merged(parts: Sequence[Predictions], samples: int) -> Predictions:
    """Chunks of predictions as one, in order."""
    return Predictions([s for p in parts for s in p.sentences], [r for p in parts for r in p.results],
                       [g for p in parts for g in p.generations], sum(p.seconds for p in parts),
                       [g for p in parts for g in p.generated], samples)


def evaluate_run(loaded: Loaded, gold: Corpus, out_dir: Path, *, restarts: int = 4,
                 seed: int = 0, fine: bool = False, exact: bool = False, normalize: bool = False,
                 align: str = "sentences", samples: int = 0, progress=None):
    """Predict the gold corpus's sentences, write them as a submission, and score that
    file exactly as `visempar evaluate --predictions` would; the summary (also written to
    OUT/summary.json) and the `SmatchReport`."""
    from visempar.scoring.files import score_files

    preds = merged(list(predict_chunks(loaded, [e.sentence or "" for e in gold.examples], samples=samples,
                                       progress=progress)), samples)  # predict's and the API's very batches
    out_dir.mkdir(parents=True, exist_ok=True)
    write_submission(out_dir / "predictions.txt", preds)
    report, extra = score_files(out_dir / "predictions.txt", gold, restarts=restarts, seed=seed,
                                fine=fine, exact=exact, normalize=normalize, align=align)
    rows = report.per_sentence
    for row, e, r, text in zip(rows, gold.examples, preds.results, preds.generations):
        row.update(sentence=e.sentence, line=e.line, path=r.path, repairs=r.repairs, passes=r.passes,
                   generated=text)
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["index", "line", "f1", "matched", "predicted", "gold", "path", "repairs", "passes",
                     "sentence"])
    for row in rows:
        writer.writerow([row["index"], row["line"], row["f1"], row["matched"], row["predicted"],
                         row["gold"], row["path"], ";".join(row["repairs"]),
                         ";".join(f"{k}:{n}" for k, n in row["passes"].items()), row["sentence"]])
    write_atomic(out_dir / "per_sentence.csv", table.getvalue())
    summary = {"run": str(loaded.run_dir), "gold": gold.path, "variant": loaded.config.variant,
               "precision": report.precision, "recall": report.recall, "f1": report.f1,
               "f1_ci95": report.f1_ci95, "mean_sentence_f1": report.mean_sentence_f1,
               "invalid": report.invalid, "read_leniently": len(extra["read_leniently"]),
               "alignment": report.alignment, "generation": preds.report()}
    if fine:
        summary["fine"] = report.fine
    write_json(out_dir / "per_sentence.json", {"summary": summary, "per_sentence": rows})
    write_json(out_dir / "summary.json", summary)
    return summary, report
