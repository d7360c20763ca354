"""A sentence split into words once, as the passes after decoding and the lexicon read it.

The passes (`visempar.passes`) compare the graph's concepts with the words of the sentence
the graph is for, and the lexicon counts which words are concepts. They all read the same
form of it, whatever called them (`predict`, dev scoring, the Python API, `repair
--passes`, training): the prompt builder's normal form (`plain_text`: NFC, one line, no
invisible characters) with the word-segmentation `_` as spaces, case kept (names are read
from capitals), split on whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from visempar.data.prompts import normalize_sentence


@dataclass(frozen=True)
class Words:
    """A sentence's normal form (`text`, case kept) and its words, cased and lower case.

    >>> s = Words.of("Anh  Luyến_nói ")
    >>> s.cased, s.lower
    (('Anh', 'Luyến', 'nói'), ('anh', 'luyến', 'nói'))
    """

    text: str
    cased: tuple[str, ...]
    lower: tuple[str, ...]

    @classmethod
    def of(cls, sentence: str) -> Words:
        text = normalize_sentence(sentence, "spaces")
        cased = tuple(text.split())
        return cls(text, cased, tuple(w.lower() for w in cased))

    @property
    def lowered(self) -> str:
        """The lower-case words joined by single spaces."""
        return " ".join(self.lower)

    def occurrences(self, phrase: str) -> int:
        """How often `phrase` (lower case) stands in the sentence as whole words."""
        return len(re.findall(r"(?<!\S)" + re.escape(phrase) + r"(?!\S)", self.lowered))

    def phrases(self, longest: int = 3) -> list[str]:
        """Every run of one to `longest` lower-case words, each once, shortest first."""
        w = self.lower
        return list(dict.fromkeys(" ".join(w[i:i + n]) for n in range(1, longest + 1)
                                  for i in range(len(w) - n + 1)))
