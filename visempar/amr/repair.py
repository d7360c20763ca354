"""Turn any string a model may produce into a valid graph, keeping as much as possible.

What it mends (failure mode D1), each change reported in words:
text around the graph, an unterminated string, unbalanced or missing parentheses
(a truncated graph is closed), a node without a variable or a concept, roles without a value
(dropped), values of several words (quoted), `:quant68`-style glue, duplicate variables (the
same concept again is a re-entrancy; a different concept gets a fresh name and the
references that follow it point to it), characters the reference scorer cannot read inside
concepts, and the spelling of multi-word concepts. Text without any graph becomes the
placeholder `(e / empty)`, flagged `empty` so that scoring can count it as invalid.
The result always reads back with `visempar.amr.parse` and with the reference scorer.
Each change is reported as `kind: what was done`, so that reports can count kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import penman
from penman.tree import Tree

from visempar.amr.concepts import ConceptStyle, normalize_concepts
from visempar.amr.errors import AMRSyntaxError
from visempar.amr.format import format_graph
from visempar.amr.graph import to_graph
from visempar.amr.parse import Token, fresh_variable, tokenize

_GLUE_RE = re.compile(r":([A-Za-z][A-Za-z-]*[A-Za-z])(\d+)")
_NUMBERED_ROLES = {"op", "ARG", "snt"}
_VARIABLE_RE = re.compile(r"[^\s()\":/]+")


@dataclass
class RepairResult:
    """The repaired graph; each change is `"kind: what was done"`."""

    graph: penman.Graph
    changes: list[str] = field(default_factory=list)
    empty: bool = False

    @property
    def kinds(self) -> list[str]:
        return [c.split(":", 1)[0] for c in self.changes]

    @property
    def text(self) -> str:
        return format_graph(self.graph)


def _extract(text: str, changes: list[str]) -> str | None:
    """The span from the first '(' to where its parentheses balance, closed if truncated."""
    start = text.find("(")
    if start < 0:
        return None
    if text[:start].strip():
        changes.append(f"surrounding-text: dropped text before the graph: {text[:start].strip()[:40]!r}")
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        c = text[i]
        if in_string:
            escaped = c == "\\" and not escaped
            if c == '"' and not escaped:
                in_string = False
            continue
        if c == '"':
            in_string = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                if text[i + 1:].strip():
                    changes.append(f"surrounding-text: dropped text after the graph: "
                                   f"{text[i + 1:].strip()[:40]!r}")
                return text[start:i + 1]
    body = text[start:]
    if in_string:
        body += '"'
        changes.append("unterminated-string: closed an unterminated string")
    changes.append(f"truncated: closed {depth} parenthes{'is' if depth == 1 else 'es'} of a truncated "
                   "graph")
    return body + ")" * depth


def _clean_string(tok: Token, changes: list[str]) -> Token:
    """A string token without escapes or inner quotes, which the reference cannot read."""
    if tok.kind != "string":
        return tok
    inner = tok.text[1:-1]
    clean = inner.replace("\\", "").replace('"', "")
    if clean == inner:
        return tok
    changes.append(f"unreadable-symbol: removed escapes from {tok.text}")
    return Token("string", f'"{clean}"', tok.offset)


class _LenientParser:
    """Builds a tree from whatever tokens come, recording what it had to change."""

    def __init__(self, tokens: list[Token], changes: list[str]):
        self.tokens, self.i, self.changes = tokens, 0, changes
        self.defined: dict[str, str] = {}  # variable -> concept of its first definition
        self.current: dict[str, str] = {}  # written variable -> name it stands for now
        self.taken: set[str] = {t.text for t in tokens if t.kind == "symbol"}
        self.nodes: dict[str, list] = {}

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def node(self) -> list:
        self.take()  # "("
        written = None
        tok = self.peek()
        if tok is not None and tok.kind == "symbol" and tok.text != "/":
            written = self.take().text
            if "/" in written:  # "b/bi"
                written, rest = written.split("/", 1)
                if rest:
                    self.tokens.insert(self.i, Token("symbol", rest, tok.offset))
                self.tokens.insert(self.i, Token("slash", "/", tok.offset))
        words = []
        if (tok := self.peek()) is not None and tok.kind == "slash":
            self.take()
            while (tok := self.peek()) is not None and tok.kind in ("symbol", "string", "slash"):
                words.append(self.take().text)
        elif written is not None:  # "(tôi)": a concept without a variable
            self.changes.append(f"missing-variable: read ({written}) as a concept without a variable")
            words, written = [written], None
            while (tok := self.peek()) is not None and tok.kind == "symbol":
                words.append(self.take().text)
        concept = self.concept(words, written)
        var = self.variable(written, concept)
        if var in self.nodes:  # the same concept again: its roles join the first node
            node = self.nodes[var]
            branches = node[1]
        else:
            branches = [("/", concept)]
            node = self.nodes[var] = [var, branches]
        while (tok := self.peek()) is not None and tok.kind != "rparen":
            if tok.kind != "role":
                self.take()
                self.changes.append(f"stray-token: dropped {tok.text!r} where a role was expected")
                continue
            role = self.role(self.take())
            target = self.value(role)
            if target is not None:
                branches.append((role, target))
        if self.peek() is not None:
            self.take()
        return node

    def concept(self, words: list[str], written: str | None) -> str:
        if not words:
            self.changes.append(f"missing-concept: node ({written or ''}) had no concept; used 'thing'")
            return "thing"
        if len(words) > 1 and any(w.startswith('"') for w in words):
            self.changes.append(f"multi-word-value: unquoted the parts of concept {words}")
            words = [w.strip('"') for w in words]
        concept = " ".join(words)
        if concept.startswith('"'):
            return concept
        clean = re.sub(r"[:/]", "-", concept)
        if clean != concept:
            self.changes.append(f"unreadable-symbol: replaced ':' or '/' in concept {concept!r}")
        return clean

    def variable(self, written: str | None, concept: str) -> str:
        if written and not _VARIABLE_RE.fullmatch(written):
            self.changes.append(f"unreadable-symbol: replaced the variable {written!r}")
            written = None
        if not written:
            name = fresh_variable(concept, self.taken)
            self.changes.append(f"missing-variable: gave the node ({concept}) the variable {name!r}")
            return name
        if written not in self.defined:
            self.defined[written] = concept
            self.current[written] = written
            self.taken.add(written)
            return written
        first = self.defined[written]
        if first == concept:
            self.changes.append(f"duplicate-variable: second definition of {written!r} ({concept}) made a "
                                "re-entrancy")
            return written
        name = fresh_variable(concept, self.taken)
        self.current[written] = name
        self.changes.append(f"duplicate-variable: {written!r} ({concept}, first {first}) "
                            f"renamed {name!r}")
        return name

    def role(self, tok: Token) -> str:
        m = _GLUE_RE.fullmatch(tok.text)
        if m and m.group(1) not in _NUMBERED_ROLES:
            self.tokens.insert(self.i, Token("symbol", m.group(2), tok.offset))
            self.changes.append(f"role-glue: split {tok.text!r} into ':{m.group(1)} {m.group(2)}'")
            return f":{m.group(1)}"
        role = ":" + re.sub(r"[:/]", "-", tok.text[1:]) if len(tok.text) > 1 else ":mod"
        if role != tok.text:
            self.changes.append(f"unreadable-symbol: role {tok.text!r} written {role!r}")
        return role

    def value(self, role: str):
        tok = self.peek()
        if tok is None or tok.kind in ("rparen", "role"):
            self.changes.append(f"dangling-role: dropped role {role} without a value")
            return None
        if tok.kind == "lparen":
            nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
            if nxt is not None and nxt.kind == "rparen":  # "()", often where output was cut
                self.i += 2
                self.changes.append(f"dangling-role: dropped role {role} with an empty node")
                return None
            return self.node()
        words = [self.take().text]
        while (tok := self.peek()) is not None and tok.kind in ("symbol", "slash"):
            words.append(self.take().text)
        if len(words) > 1 or (re.search(r"[:/]", words[0]) and not words[0].startswith('"')):
            self.changes.append(f"multi-word-value: quoted the value of {role} ({' '.join(words)})")
            return '"' + " ".join(w.strip('"') for w in words) + '"'
        return self.current.get(words[0], words[0])


def _merge_duplicates(node, seen: set[str]):
    """Where a node object appears a second time (a repeated definition), refer to it."""
    var, branches = node
    seen.add(var)
    out = [branches[0]]
    for role, target in branches[1:]:
        if isinstance(target, list):
            if target[0] in seen:
                out.append((role, target[0]))
            else:
                out.append((role, _merge_duplicates(target, seen)))
        else:
            out.append((role, target))
    return (var, out)


def repair(text: str, concepts: ConceptStyle | None = "space") -> RepairResult:
    """A valid graph from `text` and the list of changes made to get it."""
    changes: list[str] = []
    body = _extract(text, changes)
    if body is None:
        return RepairResult(to_graph(Tree(("e", [("/", "empty")]))),
                            ["no-graph: no graph found; wrote the placeholder (e / empty)"], True)
    try:
        tokens = [_clean_string(t, changes) for t in tokenize(body)]
    except AMRSyntaxError:
        tokens = tokenize(body.replace('"', ""))
        changes.append("unterminated-string: removed unbalanced quotes")
    parser = _LenientParser(tokens, changes)
    root = parser.node()
    if parser.i < len(tokens):
        changes.append("surrounding-text: dropped text after the graph")
    tree = Tree(_merge_duplicates(root, set()))
    if concepts is not None:
        respelled = normalize_concepts(tree, concepts)
        if respelled != tree:
            changes.append(f"concept-spelling: respelled multi-word concepts with {concepts}s")
        tree = respelled
    return RepairResult(to_graph(tree), changes)
