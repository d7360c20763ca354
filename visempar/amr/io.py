"""Read and write corpus files in the VLSP block format.

A block is `#::snt <sentence>` (or `# ::snt`, and other `# ::key value` metadata lines)
followed by a PENMAN graph; blocks are separated by blank lines. The reader tolerates what
real files contain: CRLF, a BOM, separator lines holding only spaces or tabs, blocks not
separated at all, blank lines inside an unfinished graph. It reports problems with file
and line and, with `on_error="skip"`, counts every skipped block instead of losing it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import penman

from visempar.amr.concepts import ConceptStyle, normalize_concepts
from visempar.amr.errors import AMRSyntaxError, CorpusError
from visempar.amr.format import Style, format_graph
from visempar.amr.graph import duplicate_triples, to_graph
from visempar.amr.parse import parse_tree
from visempar.reports import write_atomic

OnError = Literal["raise", "skip"]
_META_RE = re.compile(r"#\s*::(\S+)\s?(.*)$")


@dataclass
class Block:
    """The raw text of one block and where it starts (1-based line)."""

    line: int
    meta: dict[str, str]
    graph_lines: list[str]
    graph_line: int  # line of the first graph line

    @property
    def sentence(self) -> str | None:
        return self.meta.get("snt")

    @property
    def graph_text(self) -> str:
        return "\n".join(self.graph_lines)


@dataclass(frozen=True)
class Example:
    """A sentence and its graph, with the place it was read from."""

    sentence: str | None
    graph: penman.Graph
    path: str = "<memory>"
    line: int = 0
    text: str | None = None  # the graph as its file writes it (what the reference scorer reads)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Corpus:
    """What reading one file gave: the examples, and every problem met on the way."""

    path: str
    examples: list[Example] = field(default_factory=list)
    errors: list[AMRSyntaxError] = field(default_factory=list)
    warnings: list[AMRSyntaxError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    @property
    def blocks(self) -> int:
        return len(self.examples) + len(self.errors)


def read_text(path: str | Path) -> str:
    """A file's text as NFC with LF line ends; a missing or undecodable file is an error."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory, expected a file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: not valid UTF-8 ({e.reason})") from None
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def _depth(line: str) -> int:
    """Parenthesis balance of a line, ignoring parentheses inside quoted strings."""
    if '"' not in line:
        return line.count("(") - line.count(")")
    depth, in_string, escaped = 0, False, False
    for c in line:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
    return depth


def iter_blocks(text: str) -> Iterator[Block]:
    """Split text into blocks, by blank lines, by metadata lines that follow a graph, and,
    in a file without metadata, by a graph that opens where the last one closed (one graph
    per line). A second graph in a block with a sentence stays in that block (repair keeps
    the first), so that blocks always pair with their sentences."""
    block: Block | None = None
    depth = 0
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped:
            if block is not None and (depth <= 0 or not block.graph_lines):
                yield block
                block, depth = None, 0
            continue
        meta = _META_RE.match(stripped) if stripped.startswith("#") else None
        if stripped.startswith("#"):
            if block is not None and block.graph_lines:
                yield block
                block, depth = None, 0
            if block is None:
                block = Block(number, {}, [], 0)
            if meta:
                block.meta[meta.group(1)] = meta.group(2).strip()
            continue
        if block is not None and block.graph_lines and not block.meta and depth <= 0 and stripped.startswith("("):
            yield block  # graphs one per line, without metadata or blank lines between them
            block, depth = None, 0
        if block is None:
            block = Block(number, {}, [], 0)
        if not block.graph_lines:
            block.graph_line = number
        block.graph_lines.append(line.rstrip())
        depth += _depth(line)
    if block is not None:
        yield block


def read_blocks(path: str | Path) -> list[Block]:
    """Every block of a file, unparsed; a file without any block is a `CorpusError`."""
    blocks = list(iter_blocks(read_text(path)))
    if not blocks:
        raise CorpusError(f"{path}: no sentence/graph blocks found (empty file?)")
    return blocks


def parse_block(block: Block, path: str = "<memory>",
                concepts: ConceptStyle | None = None) -> tuple[Example, list[AMRSyntaxError]]:
    """The example of one block and its warnings; raise `AMRSyntaxError` located in `path`."""
    if not block.graph_lines:
        what = "a sentence but no graph" if block.sentence is not None else "no graph"
        raise AMRSyntaxError(f"block has {what}", path, block.line)
    try:
        result = parse_tree(block.graph_text)
    except AMRSyntaxError as e:
        raise e.located(path, block.graph_line - 1) from None
    tree = result.tree
    if concepts is not None:
        tree = normalize_concepts(tree, concepts)
    graph = to_graph(tree, block.meta)
    warnings = [w.located(path, block.graph_line - 1) for w in result.warnings]
    warnings += [AMRSyntaxError(f"triple ({s} {r} {t}) is written twice", path, block.graph_line)
                 for s, r, t in duplicate_triples(graph)]
    return Example(block.sentence, graph, path, block.line, block.graph_text), warnings


def read_corpus(path: str | Path, *, on_error: OnError = "raise",
                concepts: ConceptStyle | None = None) -> Corpus:
    """Read every block of a VLSP-format file.

    `on_error="raise"` stops at the first malformed block; `"skip"` records it in
    `Corpus.errors` and goes on. `concepts` respells multi-word concepts; None keeps them
    as written. A file without any block is a `CorpusError`.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
    corpus = Corpus(str(path))
    for block in read_blocks(path):
        try:
            example, warnings = parse_block(block, str(path), concepts)
        except AMRSyntaxError as e:
            if on_error == "raise":
                raise
            corpus.errors.append(e)
            continue
        corpus.examples.append(example)
        corpus.warnings.extend(warnings)
    return corpus


def format_example(example: Example, style: Style = "vlsp") -> str:
    lines = []
    if example.sentence is not None:
        lines.append(f"#::snt {example.sentence}")
    lines += [f"# ::{k} {v}" for k, v in example.graph.metadata.items() if k != "snt"]
    lines.append(format_graph(example.graph, style))
    return "\n".join(lines) + "\n"


def submission_block(sentence: str, graph_text: str) -> str:
    """One block of the submission format: the `#::snt` line, then the graph."""
    return f"#::snt {sentence.strip()}\n{graph_text}\n"


def write_blocks(path: str | Path, blocks: Iterable[str]) -> int:
    """Write formatted blocks separated by blank lines (UTF-8, NFC, LF), whole or not at
    all (`write_atomic`: through a symlink, never a half-written file); return the count.
    Every block file visempar writes in one go is written here."""
    texts = list(blocks)
    write_atomic(path, unicodedata.normalize("NFC", "\n".join(texts)))
    return len(texts)


def write_corpus(path: str | Path, examples: Iterable[Example], style: Style = "vlsp") -> int:
    """Write examples (their metadata too) with `write_blocks`; return the count."""
    return write_blocks(path, (format_example(e, style) for e in examples))
