"""How many new tokens a row may generate, fitted once on the training completions.

A fixed `max_new_tokens` lets a runaway row take the whole budget; one scaled to the
sentence stops it near the longest graph training saw for a sentence that long. The
budget is fitted at training time, stored whole in `run.json` and read back with the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenBudget:
    """New tokens a row may take: `ratio` per sentence token plus `floor`, at most `cap`.

    `ratio` is fitted on the training completions (`fit`); None means `cap` for every row.
    """

    cap: int
    ratio: float | None = None
    floor: int = 16

    MARGIN = 1.25

    def limit(self, sentence_tokens: int) -> int:
        if self.ratio is None:
            return self.cap
        return max(1, min(self.cap, math.ceil(self.ratio * sentence_tokens) + self.floor))

    @classmethod
    def fit(cls, sentence_tokens: Sequence[int], completion_tokens: Sequence[int], cap: int,
            margin: float = MARGIN, floor: int = 16) -> TokenBudget:
        """p99 of completion/sentence tokens over the training examples, times `margin`."""
        ratios = sorted(c / max(1, s) for s, c in zip(sentence_tokens, completion_tokens))
        if not ratios:
            return cls(cap)
        p99 = ratios[min(len(ratios) - 1, math.ceil(0.99 * len(ratios)) - 1)]
        return cls(cap, round(p99 * margin, 3), floor)

    @classmethod
    def from_config(cls, max_new_tokens: int | str, max_length: int,
                    ratio: float | None = None) -> TokenBudget:
        """`max_new_tokens: auto` is the fitted `ratio` capped at `max_length` (no training
        completion was longer); a number is a fixed limit for every row."""
        if max_new_tokens == "auto":
            return cls(max_length, ratio)
        return cls(int(max_new_tokens))

    def to_dict(self) -> dict:
        return {"cap": self.cap, "ratio": self.ratio, "floor": self.floor}

    @classmethod
    def from_dict(cls, stored: dict) -> TokenBudget:
        """The budget `to_dict` wrote (`run.json`)."""
        return cls(int(stored["cap"]), stored.get("ratio"), int(stored.get("floor", 16)))
