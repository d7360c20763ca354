"""Which words of a sentence are concepts of its graph, learnt from the training graphs.

The lexicon records, for each word of the training sentences, in how many sentences it
occurs and in how many of those it is also a concept of the graph, and the role that most
often points at such a concept. A run fits it on its training graphs and stores it as
`RUN/lexicon.json`; the `missing_words` pass after decoding (`visempar.passes`) reads it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from visempar.amr.io import Example
from visempar.data.words import Words
from visempar.errors import VisemparError

class LexiconError(VisemparError, ValueError):
    """A stored lexicon that cannot be read; the message names the file."""


MIN_SEEN = 5
MIN_RATE = 0.5  # a concept in at least half of the training sentences holding the word


@dataclass(frozen=True)
class Lexicon:
    """word -> (sentences holding it, of those where it is a concept, its commonest role)."""

    words: dict[str, tuple[int, int, str]]

    @classmethod
    def fit(cls, examples: Iterable[Example]) -> Lexicon:
        seen: Counter = Counter()
        concept: Counter = Counter()
        roles: dict[str, Counter] = defaultdict(Counter)
        for e in examples:
            concepts = {t.source: (t.target or "").lower() for t in e.graph.instances()}
            for edge in e.graph.edges():
                roles[concepts.get(edge.target, "")][edge.role] += 1
            held = set(concepts.values())
            for word in set(Words.of(e.sentence or "").lower):
                seen[word] += 1
                concept[word] += word in held
        return cls({w: (n, concept[w], roles[w].most_common(1)[0][0] if roles[w] else ":mod")
                    for w, n in seen.items() if concept[w]})

    def likely(self, word: str) -> str | None:
        """The role to attach `word` with, when it is likely a concept; else None."""
        n, as_concept, role = self.words.get(word, (0, 0, ""))
        return role if n >= MIN_SEEN and as_concept / n >= MIN_RATE else None

    def to_dict(self) -> dict:
        return {w: list(v) for w, v in sorted(self.words.items())}

    @classmethod
    def from_dict(cls, stored: dict) -> Lexicon:
        return cls({w: (int(v[0]), int(v[1]), str(v[2])) for w, v in stored.items()})

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """The lexicon a run stored (`RUN/lexicon.json`); a `LexiconError` naming the file
        when it is missing or damaged."""
        try:
            stored = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(stored)
        except FileNotFoundError:
            raise LexiconError(f"{path}: no such file (a run trained by visempar 0.2 or later stores it)") from None
        except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError, IndexError) as e:
            raise LexiconError(f"{path}: not a lexicon visempar wrote ({type(e).__name__}: {e})") from None
