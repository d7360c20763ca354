"""The table of the passes after decoding, and the one value that says which of them run.

Every place that names a pass reads `PASSES`: the config's key and its values, `Passes`,
`predict --set` and its help, `repair --passes`, the record of what each pass changed, and
the docs' table (`table()`, checked against docs/decoding.md by the tests). The passes run
in the table's order.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import penman

from visempar.errors import VisemparError
from visempar.passes.copy_words import respell_words
from visempar.passes.missing_words import add_missing
from visempar.passes.names import mark_names
from visempar.passes.negation import mark_negation
from visempar.data.words import Words
from visempar.passes.surplus_words import drop_surplus

OFF = "none"


class PassError(VisemparError, ValueError):
    """An unknown pass, or a value a pass does not take; the message lists the valid ones."""


@dataclass(frozen=True)
class Pass:
    """One pass: its config key, the value that switches it on, what it does (one line),
    the function that runs it, and whether it needs what a run fitted on its training
    graphs (`RUN/lexicon.json`)."""

    key: str
    on: str
    does: str
    run: Callable[[Words, penman.Graph, object], tuple[penman.Graph, int]]
    fitted: bool = False

    @property
    def values(self) -> tuple[str, str]:
        return (OFF, self.on)


PASSES: tuple[Pass, ...] = (
    Pass("copy_words", "nearest", "a misspelled sentence word among the concepts respelled", respell_words),
    Pass("surplus_words", "drop", "leaves repeating a sentence word too often, or holding a Vietnamese "
         "word the sentence lacks, dropped", drop_surplus),
    Pass("missing_words", "add", "words of the sentence that are concepts in most training graphs, "
         "added beside their neighbours when the graph lacks them", add_missing, fitted=True),
    Pass("names", "capitalized", "capitalised words written as named entities (typed by the run's training "
         "graphs where they know the name)", mark_names),
    Pass("negation", "next-word", "`:polarity -` on the word after a negator, where the graph has none",
         mark_negation),
)
KEYS: tuple[str, ...] = tuple(p.key for p in PASSES)
_BY_KEY = {p.key: p for p in PASSES}


def get(key: str) -> Pass:
    """The pass of config key `key`; a `PassError` naming the passes otherwise."""
    if key not in _BY_KEY:
        close = difflib.get_close_matches(key, KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PassError(f"{key!r} is not a pass after decoding{hint}; the passes are {', '.join(KEYS)}")
    return _BY_KEY[key]


def check_value(key: str, value: object) -> str:
    """`value` as the setting of pass `key`; a `PassError` listing its values otherwise."""
    step = get(key)
    if value not in step.values:
        raise PassError(f"{key}: {value!r} is not one of its values ({', '.join(step.values)})")
    return str(value)


class Passes:
    """Which passes after decoding run: every pass of `PASSES`, off unless switched on.

    >>> Passes(names="capitalized").switched_on()
    ('names',)
    >>> Passes(names="capitalised")
    Traceback (most recent call last):
    ...
    visempar.passes.registry.PassError: names: 'capitalised' is not one of its values (none, capitalized)
    """

    __slots__ = ("_values",)

    def __init__(self, **values: str):
        chosen = {key: check_value(key, value) for key, value in values.items()}
        self._values = tuple((p.key, chosen.get(p.key, OFF)) for p in PASSES)

    @classmethod
    def of(cls, config) -> Passes:
        """The passes a run config (its `passes` mapping) switches on."""
        return cls(**config.passes)

    @classmethod
    def named(cls, keys: Iterable[str]) -> Passes:
        """The passes named by config key, each switched on (`repair --passes`)."""
        return cls(**{key: get(key).on for key in keys})

    def updated(self, changes: Mapping[str, str]) -> Passes:
        """These passes with some settings changed (`--set KEY=VALUE`)."""
        return Passes(**{**self.to_dict(), **changes})

    def __getattr__(self, key: str) -> str:
        for name, value in object.__getattribute__(self, "_values"):
            if name == key:
                return value
        raise AttributeError(key)

    def to_dict(self) -> dict[str, str]:
        return dict(self._values)

    def switched_on(self) -> tuple[str, ...]:
        """The keys of the passes that run, in the order they run."""
        return tuple(key for key, value in self._values if value != OFF)

    def needs_fitted(self) -> tuple[str, ...]:
        """The passes switched on that read what a run fitted on its training graphs."""
        return tuple(key for key in self.switched_on() if get(key).fitted)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Passes) and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        on = ", ".join(f"{k}={v!r}" for k, v in self._values if v != OFF)
        return f"Passes({on})"


NO_PASSES = Passes()


def run_passes(passes: Passes, sentence: str, graph: penman.Graph,
               fitted=None) -> tuple[penman.Graph, dict[str, int]]:
    """`graph` after the passes switched on, in the table's order, and what each changed
    (pass key -> changes, for those that changed something). `sentence` is read once, in
    its normal form (`Words.of`)."""
    if not passes.switched_on():
        return graph, {}
    words = Words.of(sentence)
    changes: dict[str, int] = {}
    for key in passes.switched_on():
        graph, n = get(key).run(words, graph, fitted)
        if n:
            changes[key] = n
    return graph, changes


def table() -> str:
    """The passes as a Markdown table, in the order they run (docs/decoding.md holds it)."""
    rows = ["| order | key | on | off | what it does | needs the run's fitted data |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {i} | `{p.key}` | `{p.on}` | `{OFF}` | {p.does} | {'yes' if p.fitted else 'no'} |"
             for i, p in enumerate(PASSES, 1)]
    return "\n".join(rows)


def help_text() -> str:
    """The passes as the CLI's help names them."""
    return ", ".join(f"{p.key}={p.on}" for p in PASSES) + f" (or {OFF})"
