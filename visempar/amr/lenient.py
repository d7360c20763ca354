"""Read any text the way the reference scorer reads it, and go on where it gives up.

The challenge's scorer (`smatch` 1.0.4, `amr.AMR.parse_AMR_line`) reads a graph character
by character: `(` opens a node, `/` ends its variable, `:` ends a concept or a value and
starts a role, `)` closes the current node, and every other character is text. So it reads
`(n / nhớ:agent(t / tôi))` as `nhớ` with an `:agent` edge, and after a stray `)` it attaches
the roles that follow to the node then open. This reader follows the same rules, so that
whatever the reference reads is read here into the same nodes and edges (with the spaces
of multi-word concepts kept, where the reference deletes them), and it recovers where the
reference returns nothing:

- text before the first `(` and prose after the graph are dropped;
- an unterminated string loses its opening quote;
- a node written without a variable, `(hắn)`, is a node whose concept is `hắn` (the
  variable-free notation; `visempar.amr.restore` names it and its bare references);
- roles without a value, `()` nodes and extra `)` are dropped; `:quant68` is split;
- roles after the whole graph was closed by a stray `)` attach to the root;
- a truncated graph is closed.

Each recovery is reported as `kind: what was done`. The result is a `Node` tree with the
variables as written; `visempar.amr.repair` turns it into a valid graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_GLUE_RE = re.compile(r"([A-Za-z][A-Za-z-]*[A-Za-z])(\d+)")
_DELIMITER = re.compile(r'[/:()"]')
_NUMBERED_ROLES = {"op", "ARG", "snt"}


@dataclass(eq=False)
class Node:
    """A node as written: its variable (None when not written), concept and branches."""

    offset: int
    var: str | None = None
    concept: str | None = None
    branches: list[tuple[str, Node | Value]] = field(default_factory=list)


@dataclass(frozen=True)
class Value:
    """A bare symbol or string after a role: a constant, or a reference to a variable."""

    text: str
    offset: int


def _words(chars: list[str]) -> list[str]:
    return "".join(chars).split()


def _unterminated_quote(text: str) -> int | None:
    """Where the last string opens when it is never closed (quotes toggle, as in the reference)."""
    opened = None
    for i, c in enumerate(text):
        if c == '"':
            opened = i if opened is None else None
    return opened


class _Reader:
    """The reference's four states: 0 after `)` or at the start, 1 after `(`, 2 after `:`,
    3 after `/`; `buf` holds the text read since the last significant character."""

    def __init__(self, text: str, changes: list[str]):
        self.text, self.changes = text, changes
        self.state = 0
        self.stack: list[Node] = []
        self.root: Node | None = None
        self.buf: list[str] = []
        self.buf_start = 0
        self.role: str | None = None  # the role of the node about to open
        self.done = False
        self.i = 0

    # -- the state machine ------------------------------------------------------------
    def read(self) -> Node | None:
        in_quote = False
        for i, c in enumerate(self.text):
            self.i = i
            if in_quote or c == '"':
                in_quote = in_quote != (c == '"')
                self.push_char(c, i)
            elif c == "(":
                self.open(i)
            elif c == ")":
                self.close()
            elif c == ":":
                self.colon()
            elif c == "/":
                self.slash(i)
            else:
                self.push_char(c, i)
            if self.done:
                break
        if not self.done:
            self.finish()
        return self.root

    def push_char(self, c: str, i: int) -> None:
        if not self.buf:
            self.buf_start = i
        self.buf.append(c)

    def take(self) -> list[str]:
        words = _words(self.buf)
        self.buf = []
        return words

    def open(self, i: int) -> None:
        after = _DELIMITER.search(self.text, i + 1)
        if self.state == 1 and after is not None and after.group() == "/":
            # `(x(0 / c`: the reference opens a node only at `/`, so this is one node
            self.changes.append("unreadable-symbol: a '(' inside a node's variable was skipped, "
                                "as the reference reads it")
            return
        if self.state == 2:
            words = self.take()
            if len(words) > 1:  # the reference reads `:a gent-of (` as one role
                self.changes.append(f"role-glue: read ':{' '.join(words)}' as ':{''.join(words)}'")
            self.role = self.role_name("".join(words))
        elif self.state in (1, 3):
            self.end_header()
        elif not self.stack:
            if self.root is not None:
                self.stop("a second graph after the first was complete")
                return
            self.take()
        else:
            self.drop_junk()
        node = Node(i)
        if self.stack:
            if self.role is None:
                self.changes.append("missing-role: attached a node without a role as :mod")
            self.stack[-1].branches.append((self.role or ":mod", node))
        else:
            self.root = node
        self.role = None
        self.stack.append(node)
        self.state = 1

    def slash(self, i: int) -> None:
        if self.state == 1:
            words = self.take()
            if len(words) > 1:
                self.changes.append(f"unreadable-symbol: variable {' '.join(words)!r} written "
                                    f"{''.join(words)!r}, as the reference reads it")
            self.stack[-1].var = "".join(words)  # "" (`( / 1900)`) is named later
            self.state = 3
        else:  # inside a concept or a value, or junk: a plain character (cleaned later)
            self.push_char("/", i)

    def colon(self) -> None:
        if self.state in (1, 3):
            self.end_header()
        elif self.state == 2:
            self.attribute()
        elif not self.stack:
            if self.root is None or any(c.isalnum() for c in self.buf):
                self.stop("text after the graph")
                return
            self.drop_junk()
            self.stack.append(self.root)
            self.changes.append("stray-paren: a ')' closed the graph early; the roles after it "
                                "are attached to the root")
        else:
            self.drop_junk()
        self.state = 2

    def close(self) -> None:
        if self.state in (1, 3):
            self.end_header()
        elif self.state == 2:
            self.attribute()
        else:
            self.drop_junk()
        self.state = 0
        if not self.stack:
            self.changes.append("stray-paren: dropped an extra ')'")
            return
        node = self.stack.pop()
        if node.concept is None and node.var is None and not node.branches:
            self.drop_empty(node)

    def finish(self) -> None:
        if self.state in (1, 3):
            self.end_header()
        elif self.state == 2:
            self.attribute()
        elif not self.stack:
            if "".join(self.buf).strip():
                self.stop("text after the graph", at_end=True)
        else:
            self.drop_junk()
        if self.stack:
            n = len(self.stack)
            self.changes.append(f"truncated: closed {n} parenthes{'is' if n == 1 else 'es'} of a "
                                "truncated graph")
            while self.stack:
                node = self.stack.pop()
                if node.concept is None and node.var is None and not node.branches:
                    self.drop_empty(node)

    # -- pieces -----------------------------------------------------------------------
    def end_header(self) -> None:
        """The concept of the open node: after `/`, or the whole header of `(hắn)`."""
        words = self.take()
        if words:
            self.stack[-1].concept = " ".join(words)

    def attribute(self) -> None:
        start = self.buf_start
        words = self.take()
        if not words:
            self.changes.append("dangling-role: dropped a lone ':'")
            return
        role, values = words[0], words[1:]
        if not values:
            m = _GLUE_RE.fullmatch(role)
            if m and m.group(1) not in _NUMBERED_ROLES and not m.group(1).lower().endswith("arg"):
                self.changes.append(f"role-glue: split ':{role}' into ':{m.group(1)} {m.group(2)}'")
                role, values = m.group(1), [m.group(2)]
            else:
                self.changes.append(f"dangling-role: dropped role :{role} without a value")
                return
        value = " ".join(values)
        if len(values) > 1 and not (value.count('"') == 2 and value[0] == value[-1] == '"'):
            self.changes.append(f"multi-word-value: quoted the value of :{role} ({value})")
            value = '"' + value.replace('"', "") + '"'
        self.stack[-1].branches.append((self.role_name(role), Value(value, start)))

    def role_name(self, written: str) -> str:
        clean = re.sub(r'[()/":]', "-", written)
        if not re.search(r"\w", clean.removesuffix("-of")):  # penman reads `:-of` as `:` inverted
            self.changes.append(f"missing-role: a role without a name (:{written}) read as :mod")
            return ":mod"
        if clean != written:
            self.changes.append(f"unreadable-symbol: role :{written} written :{clean}")
        return ":" + clean

    def drop_junk(self) -> None:
        junk = "".join(self.take())
        if junk:
            self.changes.append(f"stray-token: dropped {junk!r} where a role was expected")

    def drop_empty(self, node: Node) -> None:
        """`()` reads as nothing: remove it and the role that led to it. Its `)` also closes
        the node around it, as in the reference (whose `(` pushed nothing)."""
        if node is self.root:
            self.root = None
            return
        parent = self.stack.pop()
        parent.branches = [(r, t) for r, t in parent.branches if t is not node]
        self.changes.append("dangling-role: dropped a role with an empty node")

    def stop(self, what: str, at_end: bool = False) -> None:
        rest = ("".join(self.buf) + ("" if at_end else self.text[self.i:])).strip()
        self.changes.append(f"surrounding-text: dropped {what}: {rest[:40]!r}")
        self.buf, self.done = [], True


def as_read_from_file(text: str) -> str:
    """A graph's text as the reference reads it from a file: each line stripped, then joined
    with nothing between them (`amr.AMR.get_amr_line`)."""
    return "".join(line.strip() for line in text.split("\n"))


def read_leniently(text: str, changes: list[str]) -> Node | None:
    """The node tree of `text` (None when it holds no node), recoveries added to `changes`.

    The text is read as the reference reads a file, lines joined with nothing between."""
    text = as_read_from_file(text)
    start = text.find("(")
    if start < 0:
        return None
    if text[:start].strip():
        changes.append(f"surrounding-text: dropped text before the graph: "
                       f"{text[:start].strip()[:40]!r}")
    body = text[start:]
    quote = _unterminated_quote(body)
    if quote is not None:
        body = body[:quote] + body[quote + 1:]
        changes.append("unterminated-string: removed the opening quote of an unterminated string")
    return _Reader(body, changes).read()
