"""visempar from Python: parse sentences with a trained run, score graphs.

    from visempar import draw, load_parser, score

    parser = load_parser("runs/smollm2-vlsp-varfree")
    graphs = parser.parse(["Tôi đi học .", "Trời mưa ."])   # one penman.Graph each
    print(score(graphs, gold_texts).f1)
    svg = draw(graphs[0])                                    # Graphviz's drawing, as SVG

`Parser.parse` gives the graphs `visempar predict` writes for the same run and sentences:
the same prompt builder, decoding settings, chunks and repair. `score` is the scorer of
`visempar evaluate`, on texts or graphs instead of files.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import penman

from visempar.amr.format import format_graph
from visempar.scoring.smatch import SmatchReport


@dataclass(frozen=True)
class ParseResult:
    """One sentence's graph and how it was obtained.

    `path` is `direct` (the generation read as written), `task2`/`task1` (mtup), `repaired`,
    `empty` (nothing readable: the placeholder `(e / empty)`) or `blank` (a blank sentence,
    the placeholder without generating); `repairs` names the kinds
    of change repair made; `passes` maps each pass after decoding that changed the graph
    to its number of changes (`visempar.passes`); `generated` is the model's raw completion.
    """

    sentence: str
    graph: penman.Graph
    path: str
    repairs: tuple[str, ...]
    generated: str
    passes: dict[str, int] = field(default_factory=dict)

    @property
    def repaired(self) -> bool:
        """Whether repair changed what the model wrote (the passes after decoding aside)."""
        return self.path in ("repaired", "empty") or bool(self.repairs)

    @property
    def text(self) -> str:
        """The graph in the challenge's one-line style, as `visempar predict` writes it."""
        return format_graph(self.graph)

    def _repr_svg_(self) -> str:
        """Jupyter shows a result as its graph, drawn (`draw`)."""
        return draw(self.graph)


MAX_BATCH = 1024  # sentences decoded at once; more would only exhaust memory


class Parser:
    """A trained run loaded for inference (`load_parser`)."""

    def __init__(self, loaded):
        self._loaded = loaded

    @property
    def config(self):
        """The run's `TrainConfig`: variant, decoding settings, prompt."""
        return self._loaded.config

    def parse(self, sentences: str | Iterable[str], *, batch_size: int | None = None,
              progress: bool = False) -> list[penman.Graph]:
        """One valid `penman.Graph` per sentence, in order; the sentence is the graph's
        `snt` metadata. A blank sentence gets the placeholder graph without generating."""
        return [r.graph for r in self.parse_results(sentences, batch_size=batch_size, progress=progress)]

    def parse_results(self, sentences: str | Iterable[str], *, batch_size: int | None = None,
                      progress: bool = False) -> list[ParseResult]:
        """`parse`, with how each graph was obtained (`ParseResult`)."""
        from visempar.infer.predict import predict_chunks

        todo = [sentences] if isinstance(sentences, str) else list(sentences)
        bad = [s for s in todo if not isinstance(s, str)]
        if bad:
            raise TypeError(f"sentences must be strings, got {type(bad[0]).__name__}: {bad[0]!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or not 1 <= batch_size <= MAX_BATCH):
            raise ValueError(f"batch_size must be a whole number from 1 to {MAX_BATCH}, got {batch_size!r}")
        done = 0

        def count(n: int) -> None:  # progress on stderr, only when asked for
            nonlocal done
            done += n
            print(f"\rparsed {done}/{len(todo)} sentences", end="", file=sys.stderr, flush=True)

        out: list[ParseResult] = []
        for part in predict_chunks(self._loaded, todo, batch_size=batch_size,
                                   progress=count if progress else None):
            for sentence, result, generated in zip(part.sentences, part.results, part.generations):
                graph = penman.Graph(result.graph.triples, top=result.graph.top,
                                     epidata=result.graph.epidata, metadata={"snt": sentence.strip()})
                out.append(ParseResult(sentence, graph, result.path, tuple(result.repairs), generated,
                                       dict(result.passes)))
        if progress:
            print(file=sys.stderr)
        return out


def load_parser(run_dir: str | Path, *, passes: Mapping[str, str] | None = None) -> Parser:
    """The run in `run_dir` (what `visempar train` wrote), ready to parse. `passes`
    changes the run's passes after decoding as `predict --set` does (`{"names": "none"}`).
    Raises `RunDirError` when the folder holds no finished run, `PassError` (a
    `ValueError`) for an unknown pass or value."""
    from visempar.infer.load import load_run
    from visempar.passes import check_value
    from visempar.quiet import silence_known_noise

    if not isinstance(run_dir, (str, Path)):
        raise TypeError(f"run_dir must be a path (str or Path), got {type(run_dir).__name__}")
    chosen = {key: check_value(key, value) for key, value in (passes or {}).items()}
    silence_known_noise()  # what the CLI keeps off the terminal, the API does too
    return Parser(load_run(run_dir, passes=chosen))


def draw(graph: str | penman.Graph) -> str:
    """A graph (a `penman.Graph` or its text) as an SVG string, laid out by Graphviz: what
    `visempar draw` writes. Raises `DrawError` when Graphviz cannot draw it."""
    from visempar.report.draw import svg_of

    return svg_of(graph)


def score(predictions: Sequence[str | penman.Graph], gold: Sequence[str | penman.Graph], *,
          restarts: int = 4, seed: int = 0, exact: bool = False, fine: bool = False,
          normalize_concepts: bool = False) -> SmatchReport:
    """Corpus Smatch of the i-th prediction against the i-th gold graph, with the figures
    `visempar evaluate` gives for files holding the same graphs: graph texts are read as
    the reference scorer reads a file, and an unreadable prediction counts as empty."""
    from visempar.scoring.files import score_texts

    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold graphs")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or not 0 <= restarts <= 100:
        raise ValueError(f"restarts must be a whole number from 0 to 100, got {restarts!r}")
    for item in (*predictions, *gold):
        if not isinstance(item, (str, penman.Graph)):
            raise TypeError(f"predictions and gold are graph texts or penman.Graphs, got {type(item).__name__}")
    report, _ = score_texts([_text(p) for p in predictions], [_text(g) for g in gold],
                            restarts=restarts, seed=seed, exact=exact, fine=fine,
                            normalize=normalize_concepts)
    return report


def _text(graph: str | penman.Graph) -> str:
    return graph if isinstance(graph, str) else format_graph(graph)
