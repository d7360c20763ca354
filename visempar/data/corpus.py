"""Corpus-level facts: statistics, sentence overlap between files, train/dev splits.

Sentences are compared through `sentence_key` (NFC, lower case, `_` as space, single
spaces) because the test inputs are written differently from the training sentences (the
private test is capitalised and word-segmented with `_`): a leak must not hide behind
spelling (failure mode D8).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from visempar.amr.concepts import spelling_counts
from visempar.amr.errors import CorpusError
from visempar.amr.graph import triple_count
from visempar.amr.io import Example, read_text
from visempar.data.prompts import plain_text

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"  # package data: ships in the wheel


def sample_path(split: str) -> Path:
    """The bundled sample corpus file of `split` (train, dev or test)."""
    return SAMPLE_DIR / f"{split}.txt"


def sentence_key(sentence: str) -> str:
    """A spelling-independent key for comparing sentences across files."""
    return " ".join(plain_text(sentence).lower().replace("_", " ").split())


def summary(values: Sequence[float]) -> dict[str, float]:
    """Mean, p50, p90 and max (nearest-rank percentiles), rounded for reports."""
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "max": 0.0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"mean": round(sum(ordered) / len(ordered), 2), "p50": pct(0.5),
            "p90": pct(0.9), "max": ordered[-1]}


def corpus_stats(examples: Sequence[Example]) -> dict:
    """The figures of `visempar data stats` for one file."""
    sentences = [e.sentence for e in examples if e.sentence is not None]
    keys = Counter(sentence_key(s) for s in sentences)
    graphs = [e.graph for e in examples]
    reentrant = [sum(g.reentrancies().values()) for g in graphs]
    return {
        "graphs": len(examples),
        "sentences": len(sentences),
        "distinct_sentences": len(keys),
        "duplicate_sentences": sum(n - 1 for n in keys.values() if n > 1),
        "tokens_per_sentence": summary([len(s.split()) for s in sentences]),
        "nodes_per_graph": summary([len(g.instances()) for g in graphs]),
        "triples_per_graph": summary([triple_count(g) for g in graphs]),
        "graphs_with_reentrancy": sum(1 for n in reentrant if n),
        "reentrancies": sum(reentrant),
        "concept_spelling": dict(sorted(spelling_counts(graphs).items())),
    }


def overlap(named_sentences: dict[str, Iterable[str]]) -> dict[str, int]:
    """Distinct shared sentences for each pair of files, keyed `a <> b`."""
    keys = {name: {sentence_key(s) for s in sents} for name, sents in named_sentences.items()}
    names = list(keys)
    return {f"{a} <> {b}": len(keys[a] & keys[b])
            for i, a in enumerate(names) for b in names[i + 1:]}


def read_sentences(path: str | Path) -> list[str]:
    """Sentences of a test input: a block-format corpus (its `#::snt` lines) or one per line."""
    text = read_text(path)
    if re.search(r"^\s*#\s*::snt", text, re.MULTILINE):
        return [m.group(1).strip() for m in
                re.finditer(r"^\s*#\s*::snt\s?(.*)$", text, re.MULTILINE)]
    return [line.strip() for line in text.split("\n") if line.strip()]


@dataclass
class Split:
    train: list[Example]
    dev: list[Example]
    excluded: list[Example]  # examples whose sentence is in a test input


def _rank(key: str, seed: int) -> str:
    import hashlib  # only the split needs it; the scorer imports this module

    return hashlib.sha256(f"{seed}\0{key}".encode()).hexdigest()


LIKE_BINS = 5  # length bins of equal share in the `like` sentences


def _words(sentence: str | None) -> int:
    return len((sentence or "").split())


def length_quotas(like: Sequence[str], target: int) -> tuple[list[int], list[int]]:
    """Word-count edges of `LIKE_BINS` bins holding equal shares of the `like` sentences
    (bin i is `edges[i] < words <= edges[i + 1]`; the first starts below the shortest, the
    last has no end), and how many dev examples each bin should get for `target` in all."""
    lengths = sorted(_words(s) for s in like)
    inner = sorted({lengths[min(len(lengths) - 1, (k * len(lengths)) // LIKE_BINS)] for k in range(1, LIKE_BINS)})
    edges = [lengths[0] - 1, *[e for e in inner if e > lengths[0] - 1], 10**9]
    share = [sum(1 for n in lengths if edges[i] < n <= edges[i + 1]) for i in range(len(edges) - 1)]
    quotas = [round(target * s / len(lengths)) for s in share]
    return edges, quotas


def split_examples(examples: Sequence[Example], dev_fraction: float, seed: int,
                   test_sentences: Iterable[str] = (), exclude_test: bool = False,
                   like: Sequence[str] = ()) -> Split:
    """Deterministic train/dev split; all copies of a sentence land on the same side.

    Groups of equal sentences are ordered by a seeded hash of their key, and the first
    groups fill dev up to `round(dev_fraction * n)` examples, so which examples go to dev
    does not depend on the input order. With `like` (a test input's sentences), dev is
    filled bin by bin of sentence length so that its lengths follow `like`'s (a bin the
    corpus cannot fill is topped up in the seeded order): real test sets are longer than
    a random dev split, and a dev split that looks like the test scores like it. Examples
    whose sentence is in `test_sentences` raise `CorpusError` unless `exclude_test`,
    which sets them apart in `Split.excluded`; so does a fraction that leaves either side
    empty.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise CorpusError(f"--dev-fraction must be between 0 and 1, got {dev_fraction}")
    forbidden = {sentence_key(s) for s in test_sentences}
    groups: dict[str, list[Example]] = defaultdict(list)
    excluded = []
    for i, e in enumerate(examples):
        key = sentence_key(e.sentence) if e.sentence is not None else f"\0graph{i}"
        if key in forbidden:
            excluded.append(e)
        else:
            groups[key].append(e)
    if excluded and not exclude_test:
        where = ", ".join(e.location for e in excluded[:5])
        raise CorpusError(f"{len(excluded)} example(s) have a sentence of the test input "
                         f"(first: {where}); remove them or pass --exclude-test")
    target = round(dev_fraction * sum(len(g) for g in groups.values()))
    ranked = sorted(groups, key=lambda k: _rank(k, seed))
    dev_keys: set[str] = set()
    size = 0
    if like:
        edges, quotas = length_quotas(like, target)
        filled = [0] * len(quotas)
        for key in ranked:
            words = _words(groups[key][0].sentence)
            b = next((i for i in range(len(quotas)) if edges[i] < words <= edges[i + 1]), None)
            if b is not None and filled[b] < quotas[b]:
                dev_keys.add(key)
                filled[b] += len(groups[key])
                size += len(groups[key])
    for key in ranked:
        if size >= target:
            break
        if key not in dev_keys:
            dev_keys.add(key)
            size += len(groups[key])
    train = [e for k, g in groups.items() if k not in dev_keys for e in g]
    dev = [e for k, g in groups.items() if k in dev_keys for e in g]
    if not train or not dev:
        raise CorpusError(f"--dev-fraction {dev_fraction} of {len(train) + len(dev)} examples leaves "
                          f"{'the training' if not train else 'the dev'} side empty")
    return Split(train, dev, excluded)
