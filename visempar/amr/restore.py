"""Give every node of a leniently read tree one valid variable, and resolve references.

The tree comes from `visempar.amr.lenient` with variables as written. This step decides:

- duplicate variables: the same concept again is the same node (a re-entrancy, its roles
  joined to the first); a different concept gets a fresh name, and references after it
  point to it;
- nodes written without a variable get the VLSP name (first letter, then digits);
- in a graph written without variables (the winning VLSP 2025 system's style,
  `(and :op1(đi :agent(hắn)) :op2(chửi :agent h))`, or our `*N` markers), a bare
  reference names a node: the marker's node, else the node whose concept is that word
  (`:agent con`), else a node whose concept starts with those letters (`h` -> `hắn`),
  the nearest before it first, then the nearest after. `t1`-style names take the second
  such node, as the VLSP convention numbers them. In a graph written with variables an
  undefined symbol stays a constant, as the reference reads it.

Every decision is reported as `kind: what was done`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from penman.tree import Tree

from visempar.amr.lenient import Node, Value
from visempar.amr.parse import MARKER_RE, fresh_variable, is_concept_reference

_VARIABLE_RE = re.compile(r"[^\s()\":/]+")
_REFERENCE_RE = re.compile(r"([^\W\d_]+)(\d*)")


@dataclass(frozen=True, eq=False)
class Reference:
    """A value resolved to a node: written as that node's variable."""

    node: Node


def _preorder(root: Node) -> list[Node]:
    out, todo = [], [root]
    while todo:
        node = todo.pop()
        out.append(node)
        todo.extend(t for _, t in reversed(node.branches) if isinstance(t, Node))
    return out


def _clean_concept(concept: str | None, changes: list[str]) -> str:
    if concept is None:
        changes.append("missing-concept: a node had no concept; used 'thing'")
        return "thing"
    if concept.count('"') == 2 and concept[0] == concept[-1] == '"':
        return concept
    clean = re.sub(r"[:/]", "-", concept.replace('"', ""))
    if clean != concept:
        changes.append(f"unreadable-symbol: concept {concept!r} written {clean!r}")
    return clean or "thing"


def _clean_value(value: str, changes: list[str]) -> str:
    if value.count('"') == 2 and value[0] == value[-1] == '"':
        return value
    clean = value.replace('"', "")
    if "/" in clean or ":" in clean:  # unquoted, the reference reads a slash or a role there
        changes.append(f"unreadable-symbol: quoted the value {value!r}")
        return f'"{clean}"'
    if clean != value:
        changes.append(f"unreadable-symbol: removed quotes from the value {value!r}")
    return clean or '""'


class _Namer:
    def __init__(self, root: Node, changes: list[str]):
        self.changes = changes
        self.nodes = _preorder(root)
        self.root = root
        self.variable_free = any(n.var is None for n in self.nodes)
        self.markers: dict[str, Node] = {}
        self.same: dict[int, Node] = {}  # id of a repeated definition -> the node it repeats
        self.written: dict[str, list[Node]] = {}  # written variable -> its definitions
        self.name: dict[int, str] = {}
        self.restored = 0

    def run(self) -> Tree:
        for node in self.nodes:
            words = (node.concept or "").split(" ")
            if len(words) > 1 and MARKER_RE.fullmatch(words[-1]) and words[-1] not in self.markers:
                self.markers[words[-1]] = node
                node.concept = " ".join(words[:-1])
            node.concept = _clean_concept(node.concept, self.changes)
            if node.var == "":
                self.changes.append(f"missing-variable: named the empty variable of ({node.concept})")
                node.var = None
            elif node.var is not None and not _VARIABLE_RE.fullmatch(node.var):
                self.changes.append(f"unreadable-symbol: replaced the variable {node.var!r}")
                node.var = None
        for node in self.nodes:
            if node.var is None:
                continue
            first = self.written.setdefault(node.var, [])
            if first and first[0].concept == node.concept:
                self.same[id(node)] = first[0]
                self.changes.append(f"duplicate-variable: second definition of {node.var!r} "
                                    f"({node.concept}) made a re-entrancy")
            else:
                first.append(node)
        targets = {(id(n), i): self.target(role, t, n) for n in self.nodes
                   for i, (role, t) in enumerate(n.branches) if isinstance(t, Value)}
        taken = {n.var for n in self.nodes if n.var} | {
            t for t in targets.values() if isinstance(t, str)}
        for node in self.nodes:
            if id(node) in self.same:
                continue
            if node.var is None:
                self.name[id(node)] = fresh_variable(node.concept, taken)
            elif self.written[node.var][0] is node:
                self.name[id(node)] = node.var
            else:
                self.name[id(node)] = name = fresh_variable(node.concept, taken)
                self.changes.append(f"duplicate-variable: {node.var!r} ({node.concept}, first "
                                    f"{self.written[node.var][0].concept}) renamed {name!r}")
        if self.variable_free:
            unnamed = [n.concept for n in self.nodes if n.var is None]
            self.changes.append(f"missing-variable: named {len(unnamed)} node(s) written without a "
                                f"variable ({', '.join(unnamed[:3])}{', ...' if len(unnamed) > 3 else ''})")
        for node in self.nodes:  # resolved values, then the repeated definitions' roles
            node.branches = [(r, targets.get((id(node), i), t))
                             for i, (r, t) in enumerate(node.branches)]
        for node in self.nodes:  # a repeated definition's roles join the node it repeats
            if id(node) in self.same:
                self.same[id(node)].branches.extend(node.branches)
        return Tree(self.build(self.root))

    def build(self, node: Node):
        """Penman's tree; a repeated definition is written as a reference to the first."""
        if id(node) in self.same:
            return self.name[id(self.same[id(node)])]
        branches = [("/", node.concept)]
        for role, target in node.branches:
            if isinstance(target, Reference):
                target = self.same.get(id(target.node), target.node)
                branches.append((role, self.name[id(target)]))
            else:
                branches.append((role, self.build(target) if isinstance(target, Node) else target))
        return (self.name[id(node)], branches)

    def target(self, role: str, value: Value, holder: Node) -> Reference | str:
        """What a bare value stands for: a node it names, or a constant."""
        text = value.text
        if text in self.markers:
            return Reference(self.markers[text])
        if text in self.written:
            defs = self.written[text]
            before = [d for d in defs if d.offset < value.offset]
            return Reference(before[-1] if before else defs[0])
        if self.variable_free:
            found = self.resolve(text, value.offset, holder)
            if found is not None:
                node, how = found
                self.restored += 1
                self.changes.append(f"restored-reference: {role} {text} -> ({node.concept}), {how}")
                return Reference(node)
        return _clean_value(text, self.changes)

    def resolve(self, text: str, offset: int, holder: Node) -> tuple[Node, str] | None:
        if not is_concept_reference(text):
            return None
        nodes = [n for n in self.nodes if id(n) not in self.same]
        exact = [n for n in nodes if n is not holder and n.concept.lower() == text]
        if exact:
            return _nearest(exact, offset), "by concept"
        m = _REFERENCE_RE.fullmatch(text)
        if m is None:
            return None
        letters, digits = m.groups()
        initial = [n for n in nodes if n.concept.lower().startswith(letters)]
        if digits and int(digits) < len(initial) and initial[int(digits)] is not holder:
            return initial[int(digits)], f"by initial, occurrence {int(digits) + 1}"
        initial = [n for n in initial if n is not holder]
        return (_nearest(initial, offset), "by initial, nearest") if initial else None


def _nearest(nodes: list[Node], offset: int) -> Node:
    before = [n for n in nodes if n.offset < offset]
    if before:
        return max(before, key=lambda n: n.offset)
    return min(nodes, key=lambda n: n.offset)


def name_nodes(root: Node, changes: list[str]) -> tuple[Tree, int]:
    """The tree with one valid variable per node, and how many bare references were restored."""
    namer = _Namer(root, changes)
    tree = namer.run()
    return tree, namer.restored
