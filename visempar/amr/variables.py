"""Variable-free notation for the multi-task prompt, with re-entrancies kept.

`strip_variables` writes a graph without variables: `(nói :agent(linh))`. A node that is
referred to elsewhere carries a marker after its concept, `(tôi *1 ...)`, and each
reference is the bare marker, `:agent *1`. `restore_variables` reads that notation and
names variables in the VLSP way (first letter, then digits), so

    canonical_triples(restore_variables(strip_variables(g))) == canonical_triples(g)

for every graph: nothing but variable names is lost (failure mode D4).
"""

from __future__ import annotations

import penman
from penman.tree import Tree

from visempar.amr.format import Style, format_node, quote, safe_atom, safe_concept
from visempar.amr.graph import to_graph, to_tree
from visempar.amr.parse import MARKER_RE, parse_tree


def strip_variables(graph: penman.Graph | Tree, style: Style = "oneline") -> str:
    """The graph's text without variables; re-entrant nodes get `*N` markers."""
    tree = graph if isinstance(graph, Tree) else to_tree(graph)
    defined = {var for var, _ in tree.nodes()}
    order = [var for var, _ in tree.nodes()]
    referenced = {t for _, branches in tree.nodes() for role, t in branches
                  if role != "/" and not isinstance(t, tuple) and t in defined}
    markers = {v: f"*{i}" for i, v in enumerate((v for v in order if v in referenced), 1)}

    def head(var: str, concept: str) -> str:
        text = quote(concept) if MARKER_RE.fullmatch(concept) else safe_concept(concept)
        return f"{text} {markers[var]}" if var in markers else text

    def atom(value: str) -> str:
        if value in markers:
            return markers[value]
        return quote(value) if MARKER_RE.fullmatch(value) else safe_atom(value)

    return format_node(tree.node, style, head=head, atom=atom)


def restore_variables(text: str, metadata: dict[str, str] | None = None) -> penman.Graph:
    """Read the variable-free notation back into a graph with VLSP-style variables.

    Raises `AMRSyntaxError` (with line and column) when the text is not well-formed or a
    marker refers to no node; `visempar.amr.repair` handles model output leniently.
    """
    return to_graph(parse_tree(text, variables=False).tree, metadata)
