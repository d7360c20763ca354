"""From a generation to a valid graph, with the path it took (failure mode D1).

For `mtup`: task 2 as written, else task 1 with its variables restored; for `baseline`:
the graph as written (restored first when the run writes no variables); else the
repaired text. Repeated sibling subtrees are cut to one copy in every case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import penman

from visempar.amr.concepts import normalize_concepts
from visempar.amr.dedupe import drop_repeated_siblings
from visempar.amr.errors import AMRError
from visempar.amr.graph import to_graph, to_tree
from visempar.amr.names import mark_names
from visempar.amr.negation import mark_negation
from visempar.amr.wording import drop_surplus_words, respell_from_sentence
from visempar.amr.parse import parse_tree
from visempar.amr.repair import repair
from visempar.data.lexicon import Lexicon, add_missing_words
from visempar.data.prompts import PromptBuilder


@dataclass
class Parsed:
    """A generation turned into a graph, with how it was obtained."""

    graph: penman.Graph
    path: str  # task2 | task1 | direct | repaired | empty
    repairs: list[str] = field(default_factory=list)


def _strict(text: str | None, variables: bool, concepts: str) -> penman.Graph | None:
    if not text:
        return None
    try:
        graph = to_graph(normalize_concepts(parse_tree(text, variables=variables).tree, concepts))
    except (AMRError, ValueError, penman.exceptions.PenmanError):
        return None
    variables_defined = [t.source for t in graph.instances()]
    return graph if len(set(variables_defined)) == len(variables_defined) else None


@dataclass(frozen=True)
class Passes:
    """The passes after decoding that read the sentence; the config keys of the same names
    (off by default). They need no retraining, so `predict` and `evaluate --run` may change
    them (`AFTER_DECODING`)."""

    negation: str = "none"
    copy_words: str = "none"
    surplus_words: str = "keep"
    missing_words: str = "none"
    names: str = "none"

    @classmethod
    def of(cls, config) -> Passes:
        return cls(**{k: getattr(config, k) for k in AFTER_DECODING})


AFTER_DECODING: tuple[str, ...] = tuple(f.name for f in fields(Passes))
NO_PASSES = Passes()


def to_graph_result(builder: PromptBuilder, generated: str, concepts: str = "space",
                    sentence: str = "", passes: Passes = NO_PASSES,
                    lexicon: Lexicon | None = None) -> Parsed:
    """The graph a generation stands for (in the module docstring's order), with
    repeated sibling subtrees cut to one copy, then the `passes` that read `sentence`, in
    this order, each recorded among the repairs where it changed the graph:
    `copy_words: nearest` respells misspelled sentence words (`visempar.amr.wording`),
    `surplus_words: drop` drops leaves the sentence does not license (the same module),
    `missing_words: add` adds the sentence's likely-concept words beside their neighbours
    (`visempar.data.lexicon`, with the run's `lexicon`), `names: capitalized` writes its
    capitalised words as named entities (`visempar.amr.names`), `negation: next-word` marks
    the polarity a negator governs (`visempar.amr.negation`)."""
    parsed = _graph_result(builder, generated, concepts)
    tree, dropped = drop_repeated_siblings(to_tree(parsed.graph))
    if dropped:
        parsed = Parsed(to_graph(tree), parsed.path, [*parsed.repairs, "repeated-subtree"])
    steps = [
        (passes.copy_words == "nearest", "respelled-word", respell_from_sentence),
        (passes.surplus_words == "drop", "surplus-word", drop_surplus_words),
        (passes.missing_words == "add" and lexicon is not None, "missing-word",
         lambda text, graph: add_missing_words(text, graph, lexicon)),
        (passes.names == "capitalized", "name", mark_names),
        (passes.negation == "next-word", "negation", mark_negation),
    ]
    for wanted, kind, apply in steps:
        if wanted:
            graph, changed = apply(sentence, parsed.graph)
            if changed:
                parsed = Parsed(graph, parsed.path, [*parsed.repairs, kind])
    return parsed


def _graph_result(builder: PromptBuilder, generated: str, concepts: str) -> Parsed:
    parts = builder.parse(generated)
    if builder.variant == "mtup":
        graph = _strict(parts.task2, True, concepts)
        if graph is not None:
            return Parsed(graph, "task2")
        graph = _strict(parts.task1, False, concepts)
        if graph is not None:
            return Parsed(graph, "task1")
    else:
        graph = _strict(parts.task2, builder.variables, concepts)
        if graph is not None:
            return Parsed(graph, "direct")
    source = parts.task2 or parts.task1 or parts.raw
    fixed = repair(source, concepts)
    return Parsed(fixed.graph, "empty" if fixed.empty else "repaired", fixed.kinds)


def path_counts(results: Sequence[Parsed]) -> dict:
    """How many results took each path, the kinds of repair, and how many needed one."""
    return {"paths": dict(Counter(r.path for r in results)),
            "repair_kinds": dict(Counter(k for r in results for k in r.repairs)),
            "needed_repair": sum(r.path in ("repaired", "empty") for r in results)}
