"""Graphs drawn as SVG by Graphviz, optionally coloured by a Smatch alignment.

The layout is Graphviz's `dot` (top to bottom, the root first), through `pygraphviz`,
whose wheels carry Graphviz itself: `pip install` brings everything, no system package.

A graph is drawn as the reference scorer reads its text (`visempar.amr.lenient`, which
reads the same nodes and edges in the same order, with the concepts' spaces kept), so a
drawing shows what was scored. With an alignment (`visempar.scoring.alignment`), every
node (its concept), edge and attribute carries one of three looks, told apart by line
style as well as by colour (Okabe-Ito colours, safe for colour-blind readers):

- matched: solid, bluish green;
- only in the prediction: dashed, vermillion;
- only in the gold graph: dotted, blue.

The root has a double border. A constant (`-`, a number, a quoted string) is a plain box.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

import penman

from visempar.amr.format import format_graph
from visempar.amr.lenient import Node, Value, read_leniently
from visempar.errors import VisemparError
from visempar.scoring.triples import symbol_key

MATCHED, PREDICTION, GOLD = "matched", "prediction", "gold"
LOOKS = {  # status: (colour, line style, what the legend says)
    MATCHED: ("#009E73", "solid", "matched (solid)"),
    PREDICTION: ("#D55E00", "dashed", "only in the prediction (dashed)"),
    GOLD: ("#0072B2", "dotted", "only in the gold graph (dotted)"),
    None: ("#333333", "solid", "not aligned"),
}
_NOT_INVERTED = {"prep-on-behalf-of", "prep-out-of", "consist-of"}  # the reference keeps these


class DrawError(VisemparError, RuntimeError):
    """Graphviz could not draw a graph (the message says why)."""


@dataclass
class Picture:
    """What is drawn: nodes (name, label, reference triple, constant?) and edges (from, to,
    label, reference triple), each with the reference's own naming of the triple it stands
    for, so that an alignment can say whether it matched."""

    nodes: list[tuple[str, str, tuple, bool]] = field(default_factory=list)
    edges: list[tuple[str, str, str, tuple]] = field(default_factory=list)
    top: str | None = None


def picture(text: str, prefix: str = "a") -> Picture:
    """The nodes and edges the reference reads in `text`, named as it names them
    (`a0`, `a1`... in the order the nodes are written)."""
    root = read_leniently(text, [])
    pic = Picture()
    if root is None:
        return pic
    order: list[Node] = []

    def collect(node: Node) -> None:
        order.append(node)
        for _, value in node.branches:
            if isinstance(value, Node):
                collect(value)

    collect(root)
    name = {id(n): f"{prefix}{i}" for i, n in enumerate(order)}
    by_var = {n.var: name[id(n)] for n in order if n.var}
    pic.top = name[id(root)]
    for n in order:
        concept = n.concept or ""
        pic.nodes.append((name[id(n)], concept, ("instance", name[id(n)], symbol_key(concept, raw=True)), False))
    constants = 0
    for n in order:
        here = name[id(n)]
        for role, value in n.branches:
            label = role.lstrip(":")
            target = name[id(value)] if isinstance(value, Node) else by_var.get(value.text)
            if target is not None:
                pic.edges.append((here, target, role, _relation(label, here, target)))
                continue
            text = value.text if isinstance(value, Value) else str(value)
            constant = f"{prefix}c{constants}"
            constants += 1
            attribute = (symbol_key(label), here, symbol_key(text, raw=True))
            pic.nodes.append((constant, text, attribute, True))  # drawn as its attribute triple is
            pic.edges.append((here, constant, role, attribute))
    return pic


def _relation(label: str, source: str, target: str) -> tuple:
    """An edge as the reference stores it: `-of` roles and `:mod` turned round."""
    low = label.lower()
    if low.endswith("-of") and low not in _NOT_INVERTED:
        return (symbol_key(label[:-3]), target, source)
    if low == "mod":
        return ("domain", target, source)
    return (symbol_key(label), source, target)


def dot_source(pic: Picture, matched: set | None = None, missing: str = PREDICTION) -> str:
    """Graphviz DOT of a picture; with `matched` (reference triples as
    `visempar.scoring.alignment.key` writes them), each element is matched or not
    (`missing`: the look of what did not match)."""
    def look(triple: tuple) -> str | None:
        if matched is None or not triple:
            return None
        return MATCHED if triple in matched else missing

    lines = ['digraph amr {', '  graph [rankdir=TB, nodesep=0.25, ranksep=0.35, bgcolor="transparent"];',
             '  node [fontname="Helvetica", fontsize=11, shape=ellipse, height=0.3];',
             '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6];']
    top_key = ("top", pic.top, "top")
    for name, label, triple, constant in pic.nodes:
        status = look(triple)
        colour, style, _ = LOOKS[status]
        extra = ', peripheries=2' if name == pic.top else ""
        if name == pic.top and matched is not None and top_key not in matched:
            extra += ', tooltip="the root is not aligned with the other graph\'s root"'
        shape = ', shape=box, height=0.25' if constant else ""
        lines.append(f'  "{name}" [label={_quote(label)}, color="{colour}", fontcolor="{colour}", '
                     f'style="{style}", penwidth={1.2 if status else 1.0}{shape}{extra}];')
    for source, target, role, triple in pic.edges:
        status = look(triple)
        colour, style, _ = LOOKS[status]
        lines.append(f'  "{source}" -> "{target}" [label={_quote(role)}, color="{colour}", '
                     f'fontcolor="{colour}", style="{style}"];')
    lines.append("}")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_svg(dot: str) -> str:
    """SVG of DOT source, laid out by Graphviz `dot` (in this process, through pygraphviz)."""
    try:
        import pygraphviz
    except ImportError as e:
        raise DrawError(f"drawing graphs needs pygraphviz (pip install pygraphviz): {e}") from None
    try:
        with _quiet_fontconfig():
            svg = pygraphviz.AGraph(string=dot).draw(format="svg", prog="dot")
    except Exception as e:  # Graphviz reports layout errors as several exception types
        raise DrawError(f"Graphviz could not draw the graph: {e}") from None
    text = svg.decode("utf-8") if isinstance(svg, bytes) else str(svg)
    return text[text.index("<svg"):]  # no XML prolog: the SVG sits inside HTML


def svg_of(graph: penman.Graph | str) -> str:
    """One graph (a `penman.Graph` or its text) as an SVG string, laid out by Graphviz.

    >>> svg = svg_of("(h / hiểu :agent (a / anh) :polarity -)")
    >>> svg.startswith("<svg") and "hiểu" in svg
    True
    """
    text = graph if isinstance(graph, str) else format_graph(graph, "oneline")
    return render_svg(dot_source(picture(text)))


def draw_pair(pred_text: str, gold_text: str, alignment) -> tuple[str | None, str]:
    """The prediction and its gold graph as two SVGs coloured by `alignment`
    (`visempar.scoring.alignment.PairAlignment`); None for a prediction the reference
    cannot read (its gold graph is then all `only in the gold graph`)."""
    gold = render_svg(dot_source(picture(gold_text, "b"), set(alignment.gold_matched), GOLD))
    if alignment.pred is None:
        return None, gold
    return render_svg(dot_source(picture(pred_text, "a"), set(alignment.pred_matched), PREDICTION)), gold


_FIRST = [True]


@contextmanager
def _quiet_fontconfig():
    """The fontconfig inside the pygraphviz wheel may be older than the system's
    configuration files; when Graphviz first loads the fonts it then warns, on the
    process's own stderr, about elements it does not know. The first drawing runs with
    stderr caught; every line but those warnings is passed on."""
    if not _FIRST[0]:
        yield
        return
    _FIRST[0] = False
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode("utf-8", "replace").splitlines():
                if not line.startswith("Fontconfig warning"):
                    print(line, file=sys.stderr)
