"""Variable-free notation, with re-entrancies kept (`graph_format: varfree*`, and task 1 of
the multi-task prompt).

`strip_variables` writes a graph without variables: `(nói :agent(linh))`. A node that is
referred to elsewhere is written in one of two ways (`references`):

- `markers`: the node carries a marker after its concept, `(tôi *1 ...)`, and each
  reference is the bare marker, `:agent *1`. The model must decide at the node's first
  mention that it will be mentioned again.
- `concepts`: each reference is the node's concept, bare, `:agent tôi`, as a human would
  write it and as restore reads it (the node of that concept). No decision ahead: the
  model copies a concept it wrote before. A node whose concept is not a plain symbol, or
  another node shares, or a constant of the graph spells, keeps a marker, so the text
  still names exactly one node. Model output is read by `visempar.amr.repair`, which
  resolves bare concepts in any variable-free graph.

`restore_variables` reads either (told which) and names variables in the VLSP way (first
letter, then digits), so

    canonical_triples(restore_variables(strip_variables(g, references=r), references=r))
        == canonical_triples(g)

for every graph and either `r`: nothing but variable names is lost (failure mode D4).
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import penman
from penman.tree import Tree

from visempar.amr.format import Style, format_node, quote, safe_atom, safe_concept
from visempar.amr.graph import to_graph, to_tree
from visempar.amr.parse import MARKER_RE, is_concept_reference, parse_tree


References = Literal["markers", "concepts"]


def strip_variables(graph: penman.Graph | Tree, style: Style = "oneline",
                    references: References = "markers") -> str:
    """The graph's text without variables; a node mentioned again is referred to by a
    `*N` marker, or by its concept where that names it alone (`references`, module doc)."""
    tree = graph if isinstance(graph, Tree) else to_tree(graph)
    defined = {var for var, _ in tree.nodes()}
    order = [var for var, _ in tree.nodes()]
    referenced = {t for _, branches in tree.nodes() for role, t in branches
                  if role != "/" and not isinstance(t, tuple) and t in defined}
    if references not in ("markers", "concepts"):
        raise ValueError(f"unknown references {references!r}; expected markers or concepts")
    by_concept: dict[str, str] = {}
    if references == "concepts":
        by_concept, spelled = _named_by_concept(tree, referenced)
        referenced |= spelled
    markers = {v: f"*{i}" for i, v in enumerate((v for v in order if v in referenced and v not in by_concept), 1)}

    def head(var: str, concept: str) -> str:
        text = quote(concept) if MARKER_RE.fullmatch(concept) else safe_concept(concept)
        return f"{text} {markers[var]}" if var in markers else text

    def atom(value: str) -> str:
        if value in markers:
            return markers[value]
        if value in by_concept:
            return by_concept[value]
        return quote(value) if MARKER_RE.fullmatch(value) else safe_atom(value)

    return format_node(tree.node, style, head=head, atom=atom)


def _named_by_concept(tree: Tree, referenced: set[str]) -> tuple[dict[str, str], set[str]]:
    """(the referenced nodes a bare concept names alone: a plain lower-case symbol,
    `is_concept_reference`, that no other node has; the nodes that need a marker anyway).
    A node whose concept a constant of the graph spells gets a marker even when nothing
    refers to it: restore then keeps that constant a constant."""
    concept = {var: branches[0][1] for var, branches in tree.nodes()}
    count = Counter(c.lower() for c in concept.values())
    constants = {t.lower() for _, branches in tree.nodes() for role, t in branches
                 if role != "/" and not isinstance(t, tuple) and t not in concept}
    spelled = {v for v, c in concept.items() if c.lower() in constants}
    named = {v: concept[v] for v in referenced - spelled
             if is_concept_reference(concept[v]) and count[concept[v]] == 1}
    return named, spelled


def restore_variables(text: str, metadata: dict[str, str] | None = None,
                      references: References = "markers") -> penman.Graph:
    """Read the variable-free notation back into a graph with VLSP-style variables;
    with `references="concepts"` a bare concept that one node has names that node.

    Raises `AMRSyntaxError` (with line and column) when the text is not well-formed or a
    marker refers to no node; `visempar.amr.repair` handles model output leniently.
    """
    return to_graph(parse_tree(text, variables=False, concept_references=references == "concepts").tree,
                    metadata)
