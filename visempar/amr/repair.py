"""Turn any string a model may produce into a valid graph, keeping as much as possible.

Three steps, each in its own module:

1. `visempar.amr.lenient` reads the text with the reference scorer's own rules and
   recovers where the reference gives up (text around the graph, unterminated strings,
   stray or missing parentheses, roles without values, `:quant68` glue, concepts glued to
   roles, nodes without a variable);
2. `visempar.amr.restore` gives every node one valid variable (duplicates become
   re-entrancies or are renamed) and resolves the bare references of graphs written
   without variables;
3. multi-word concepts are respelled (`chủ_tịch` -> `chủ tịch` by default).

So whatever the reference reads, the repaired graph keeps all of its triples (up to
variable names and concept spelling), and text it cannot read keeps every node and role
that can be placed. Text without any node becomes the placeholder `(e / empty)`, flagged
`empty` so that scoring can count it as invalid. Each change is reported as
`kind: what was done`, so that reports can count kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import penman
from penman.tree import Tree

from visempar.amr.concepts import ConceptStyle, normalize_concepts
from visempar.amr.format import format_graph
from visempar.amr.graph import to_graph
from visempar.amr.lenient import read_leniently
from visempar.amr.restore import name_nodes


@dataclass
class RepairResult:
    """The repaired graph; each change is `"kind: what was done"`."""

    graph: penman.Graph
    changes: list[str] = field(default_factory=list)
    empty: bool = False
    restored: int = 0  # bare references resolved to nodes (re-entrancies restored)

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(c.split(":", 1)[0] for c in self.changes))

    @property
    def text(self) -> str:
        return format_graph(self.graph)


def repair(text: str, concepts: ConceptStyle | None = "space") -> RepairResult:
    """A valid graph from `text` and the list of changes made to get it."""
    changes: list[str] = []
    root = read_leniently(text, changes)
    if root is None:
        return RepairResult(to_graph(Tree(("e", [("/", "empty")]))),
                            ["no-graph: no graph found; wrote the placeholder (e / empty)"], True)
    tree, restored = name_nodes(root, changes)
    if concepts is not None:
        respelled = normalize_concepts(tree, concepts)
        if respelled != tree:
            changes.append(f"concept-spelling: respelled multi-word concepts with {concepts}s")
        tree = respelled
    return RepairResult(to_graph(tree), changes, restored=restored)
