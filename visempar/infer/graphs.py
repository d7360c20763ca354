"""From a generation to a valid graph, with the path it took (failure mode D1), then the
passes after decoding.

For `mtup`: task 2 as written, else task 1 with its variables restored; for `baseline`:
the graph as written (restored first when the run writes no variables); else the
repaired text. Repeated sibling subtrees are cut to one copy in every case. Then the
passes after decoding that the run switches on read the sentence (`visempar.passes`);
what they change is recorded apart from what repair changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import penman

from visempar.amr.concepts import normalize_concepts
from visempar.amr.dedupe import drop_repeated_siblings
from visempar.amr.errors import AMRError
from visempar.amr.graph import to_graph, to_tree
from visempar.amr.parse import parse_tree
from visempar.amr.repair import repair
from visempar.data.lexicon import Lexicon
from visempar.data.prompts import PromptBuilder
from visempar.passes import NO_PASSES, Passes, run_passes


@dataclass
class Parsed:
    """A generation turned into a graph, with how it was obtained: the path, the kinds of
    change repair made, and the changes of each pass after decoding (key -> count)."""

    graph: penman.Graph
    path: str  # task2 | task1 | direct | repaired | empty | blank (no sentence: not generated)
    repairs: list[str] = field(default_factory=list)
    passes: dict[str, int] = field(default_factory=dict)


def _strict(text: str | None, variables: bool, concepts: str, concept_references: bool = False) -> penman.Graph | None:
    if not text:
        return None
    try:
        tree = parse_tree(text, variables=variables, concept_references=concept_references).tree
        graph = to_graph(normalize_concepts(tree, concepts))
    except (AMRError, ValueError, penman.exceptions.PenmanError):
        return None
    variables_defined = [t.source for t in graph.instances()]
    return graph if len(set(variables_defined)) == len(variables_defined) else None


def to_graph_result(builder: PromptBuilder, generated: str, concepts: str = "space",
                    sentence: str = "", passes: Passes = NO_PASSES,
                    lexicon: Lexicon | None = None) -> Parsed:
    """The graph a generation stands for (in the module docstring's order), with
    repeated sibling subtrees cut to one copy, then the `passes` that read `sentence`
    (`visempar.passes.run_passes`, with the run's fitted `lexicon`)."""
    parsed = _graph_result(builder, generated, concepts)
    tree, dropped = drop_repeated_siblings(to_tree(parsed.graph))
    if dropped:
        parsed = Parsed(to_graph(tree), parsed.path, [*parsed.repairs, "repeated-subtree"])
    graph, changes = run_passes(passes, sentence, parsed.graph, lexicon)
    return Parsed(graph, parsed.path, parsed.repairs, changes)


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
        graph = _strict(parts.task2, builder.variables, concepts, builder.references == "concepts")
        if graph is not None:
            return Parsed(graph, "direct")
    source = parts.task2 or parts.task1 or parts.raw
    fixed = repair(source, concepts)
    return Parsed(fixed.graph, "empty" if fixed.empty else "repaired", fixed.kinds)


def path_counts(results: Sequence[Parsed]) -> dict:
    """How many results took each path, the kinds of repair, how many needed one, and per
    pass after decoding the graphs it changed and its changes in all."""
    graphs: Counter = Counter(k for r in results for k in r.passes)
    changes: Counter = Counter()
    for r in results:
        changes.update(r.passes)
    return {"paths": dict(Counter(r.path for r in results)),
            "repair_kinds": dict(Counter(k for r in results for k in r.repairs)),
            "needed_repair": sum(r.path in ("repaired", "empty") for r in results),
            "passes": {k: {"graphs": graphs[k], "changes": changes[k]} for k in graphs}}
