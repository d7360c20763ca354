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
from dataclasses import dataclass, field
from pathlib import Path

import penman

from visempar.amr.io import Example
from visempar.data.words import Words
from visempar.errors import VisemparError

class LexiconError(VisemparError, ValueError):
    """A stored lexicon that cannot be read; the message names the file."""


MIN_SEEN = 5
MIN_RATE = 0.5  # a concept in at least half of the training sentences holding the word


@dataclass(frozen=True)
class Lexicon:
    """What a run fits on its training graphs for the passes after decoding.

    `words`: word -> (sentences holding it, of those where it is a concept, its commonest
    role); `names`: a name's words (lower case) -> the type its entity had; `types_after`:
    a word -> the type of the entities named right after it, where the training graphs
    agree (at least three, two thirds of one type); `commonest_type`: the type of most
    entities."""

    words: dict[str, tuple[int, int, str]]
    names: dict[str, str] = field(default_factory=dict)
    types_after: dict[str, str] = field(default_factory=dict)
    commonest_type: str = "person"

    @classmethod
    def fit(cls, examples: Iterable[Example]) -> Lexicon:
        seen: Counter = Counter()
        concept: Counter = Counter()
        roles: dict[str, Counter] = defaultdict(Counter)
        names: dict[str, Counter] = defaultdict(Counter)
        after: dict[str, Counter] = defaultdict(Counter)
        for e in examples:
            concepts = {t.source: (t.target or "").lower() for t in e.graph.instances()}
            for edge in e.graph.edges():
                roles[concepts.get(edge.target, "")][edge.role] += 1
            held = set(concepts.values())
            words = Words.of(e.sentence or "").lower
            for word in set(words):
                seen[word] += 1
                concept[word] += word in held
            for name, kind in entities(e.graph):
                names[name][kind] += 1
                first = name.split()[0]
                if first in words and words.index(first) > 0:
                    after[words[words.index(first) - 1]][kind] += 1
        kinds = Counter(k for c in names.values() for k in c.elements())
        return cls({w: (n, concept[w], roles[w].most_common(1)[0][0] if roles[w] else ":mod")
                    for w, n in seen.items() if concept[w]},
                   {n: c.most_common(1)[0][0] for n, c in names.items()},
                   {w: c.most_common(1)[0][0] for w, c in after.items()
                    if w.isalpha() and sum(c.values()) >= 3 and 3 * c.most_common(1)[0][1] >= 2 * sum(c.values())
                    and c.most_common(1)[0][0].isascii()},
                   kinds.most_common(1)[0][0] if kinds else "person")

    def likely(self, word: str) -> str | None:
        """The role to attach `word` with, when it is likely a concept; else None."""
        n, as_concept, role = self.words.get(word, (0, 0, ""))
        return role if n >= MIN_SEEN and as_concept / n >= MIN_RATE else None

    def to_dict(self) -> dict:
        return {"words": {w: list(v) for w, v in sorted(self.words.items())}, "names": dict(sorted(self.names.items())),
                "types_after": dict(sorted(self.types_after.items())), "commonest_type": self.commonest_type}

    @classmethod
    def from_dict(cls, stored: dict) -> Lexicon:
        """A stored lexicon; one stored before names were fitted is its word table alone."""
        if "words" not in stored or not isinstance(stored["words"], dict):
            stored = {"words": stored}
        return cls({w: (int(v[0]), int(v[1]), str(v[2])) for w, v in stored["words"].items()},
                   {str(k): str(v) for k, v in stored.get("names", {}).items()},
                   {str(k): str(v) for k, v in stored.get("types_after", {}).items()},
                   str(stored.get("commonest_type", "person")))

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


def entities(graph: penman.Graph) -> list[tuple[str, str]]:
    """(the name's words, lower case and joined by spaces; the entity's type) for each
    `:name` of the graph."""
    concept = {t.source: t.target or "" for t in graph.instances()}
    found = []
    for edge in graph.edges(role=":name"):
        parts = [(r.role, concept.get(r.target, r.target)) for r in graph.edges(source=edge.target)]
        parts += [(a.role, (a.target or "").strip('"')) for a in graph.attributes(source=edge.target)]
        words = [w for _, w in sorted(((int(r[3:]), w) for r, w in parts if r[:3] == ":op" and r[3:].isdigit()))]
        if words and concept.get(edge.source):
            found.append((" ".join(" ".join(words).replace("_", " ").lower().split()), concept[edge.source]))
    return found
