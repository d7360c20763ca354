"""Parse the VLSP dialect of PENMAN into `penman.Tree` objects.

Stock `penman.decode` rejects most VLSP graphs (concepts written with spaces), so this
module reads the dialect the challenge files really use:

- `:role(` with no space before the parenthesis;
- multi-word concepts written with spaces (`(t / thuận lợi`) or with `_`;
- non-ASCII and numeric variables (`đ`, `ở`, `1`);
- quoted and unquoted constants (`:op1 "Bùi"`, `:wiki -`, `:value an.hus@gmail.com`);
- the empty variable `( / 1900)`, which is given a fresh name and reported.

The same parser reads the variable-free notation (`visempar.amr.variables`), where a node
is `(concept` optionally followed by a re-entrancy marker `*N`, and a reference is the
bare marker, or, where asked, the bare concept of the one node that has it (`:agent tôi`).

A bare symbol after a role is a re-entrancy when it names a variable defined anywhere in
the graph, and a constant otherwise: the rule of penman and of the reference scorer.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from penman.tree import Tree

from visempar.amr.errors import AMRSyntaxError

_TOKEN_RE = re.compile(
    r"""
    (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<role>:[^\s()"]*)
  | (?P<symbol>[^\s()"]+)
  | (?P<unterminated>")
    """,
    re.VERBOSE,
)
MARKER_RE = re.compile(r"\*\d+")


class Token(NamedTuple):
    kind: str  # lparen, rparen, string, role, symbol, slash
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    """Split graph text into tokens; an unterminated string is a located error."""
    tokens = [Token("slash" if m.group() == "/" else m.lastgroup, m.group(), m.start())
              for m in _TOKEN_RE.finditer(text)]  # whitespace is what no token matches
    for tok in tokens:
        if tok.kind == "unterminated":
            raise _error_at(text, tok.offset, "unterminated string (a '\"' is never closed)")
    return tokens


def _line_col(text: str, offset: int) -> tuple[int, int]:
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _error_at(text: str, offset: int, reason: str) -> AMRSyntaxError:
    line, col = _line_col(text, offset)
    return AMRSyntaxError(reason, line=line, column=col)


def _describe(tok: Token | None) -> str:
    return "the end of the graph" if tok is None else repr(tok.text)


class _Parser:
    """Recursive-descent parser over one graph's tokens."""

    def __init__(self, text: str, variables: bool, concept_references: bool = False):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.variables = variables
        self.concept_references = concept_references and not variables
        self.defined: dict[str, int] = {}  # variable -> offset of its definition
        self.markers: dict[str, str] = {}  # variable-free notation: marker -> variable
        self.empty_variables: list[Token] = []
        self.warnings: list[AMRSyntaxError] = []

    # -- token helpers -------------------------------------------------------------
    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, reason: str, tok: Token | None = None) -> AMRSyntaxError:
        offset = len(self.text) if tok is None else tok.offset
        return _error_at(self.text, offset, reason)

    # -- grammar -------------------------------------------------------------------
    def parse(self) -> Tree:
        first = self.peek()
        if first is None:
            raise self.error("empty graph")
        if first.kind != "lparen":
            raise self.error(f"a graph starts with '(', found {_describe(first)}", first)
        node = self.node()
        extra = self.peek()
        if extra is not None:
            raise self.error(f"text after the end of the graph: {_describe(extra)}", extra)
        return Tree(self.resolve(node))

    def node(self):
        opening = self.take()
        var = self.header(opening)
        branches: list = [("/", self.concept(var, opening))]
        while (tok := self.peek()) is not None and tok.kind == "role":
            role = self.take()
            if role.text == ":":
                raise self.error("a role without a name (a lone ':')", role)
            branches.append((role.text, self.value(role)))
        tok = self.peek()
        if tok is None:
            raise self.error(f"the node opened at {self.where(opening)} is never closed "
                             "(missing ')')")
        if tok.kind != "rparen":
            raise self.error(f"expected a role or ')', found {_describe(tok)}", tok)
        self.take()
        return [var, branches]

    def header(self, opening: Token) -> str:
        if not self.variables:
            return _placeholder(opening.offset)  # named in resolve()
        tok = self.peek()
        if tok is not None and tok.kind == "symbol":
            self.take()
            var = tok.text
            if "/" in var and (nxt := self.peek()) is not None and nxt.kind != "slash":
                var, rest = var.split("/", 1)  # "(b/bi)" written without spaces
                if rest:
                    self.tokens.insert(self.i, Token("symbol", rest, tok.offset + len(var) + 1))
                self.tokens.insert(self.i, Token("slash", "/", tok.offset + len(var)))
            if not var:
                self.empty_variables.append(tok)
                return _placeholder(tok.offset)
            if var in self.defined:
                raise self.error(f"variable {var!r} is defined twice (first at "
                                 f"{self.where_offset(self.defined[var])})", tok)
            self.defined[var] = tok.offset
            return var
        if tok is not None and tok.kind == "slash":
            self.empty_variables.append(opening)
            return _placeholder(opening.offset)
        raise self.error(f"expected a variable after '(', found {_describe(tok)}", tok or opening)

    def concept(self, var: str, opening: Token) -> str:
        if self.variables:
            tok = self.peek()
            if tok is not None and tok.kind == "symbol" and tok.text.startswith("/"):
                self.split_glued_slash(tok)
                tok = self.peek()
            if tok is None or tok.kind != "slash":
                raise self.error(f"expected '/' and a concept after the variable, found "
                                 f"{_describe(tok)}", tok)
            self.take()
        words: list[str] = []
        while (tok := self.peek()) is not None and tok.kind in ("symbol", "string"):
            if not self.variables and MARKER_RE.fullmatch(tok.text):
                self.take()
                if tok.text in self.markers:
                    raise self.error(f"marker {tok.text} is defined twice", tok)
                self.markers[tok.text] = var
                break
            words.append(self.take().text)
        if not words:
            raise self.error(f"missing concept, found {_describe(self.peek())}",
                             self.peek() or opening)
        return " ".join(words)

    def split_glued_slash(self, tok: Token) -> None:
        """Read `(a /__and` (a real typo in the training files) as `(a / and`, with a warning."""
        rest = tok.text[1:]
        concept = rest.lstrip("_")
        self.tokens[self.i: self.i + 1] = [Token("slash", "/", tok.offset)] + (
            [Token("symbol", concept, tok.offset + 1 + len(rest) - len(concept))]
            if concept else [])
        if concept != rest:
            self.warnings.append(self.error(f"{tok.text!r} read as '/ {concept}'", tok))

    def value(self, role: Token):
        tok = self.peek()
        if tok is None or tok.kind in ("rparen", "role", "slash"):
            raise self.error(f"role {role.text} has no value", role)
        if tok.kind == "lparen":
            return self.node()
        self.take()
        nxt = self.peek()
        if nxt is not None and nxt.kind == "symbol":
            raise self.error(f"value of {role.text} has several words ({tok.text} {nxt.text} "
                             "...); quote it or make it a node", nxt)
        return tok.text

    def where(self, tok: Token) -> str:
        return self.where_offset(tok.offset)

    def where_offset(self, offset: int) -> str:
        line, col = _line_col(self.text, offset)
        return f"line {line}, column {col}"

    # -- naming --------------------------------------------------------------------
    def resolve(self, node):
        """Name placeholder variables and turn variable-free markers into references."""
        if self.variables and not self.empty_variables:
            return _freeze(node, {})
        taken = set(self.defined) | _atoms(node)
        names: dict[str, str] = {}
        for var, concept in _placeholders(node):
            names[var] = fresh_variable(concept, taken)
        for tok in self.empty_variables:
            name = names[_placeholder(tok.offset)]
            self.warnings.append(self.error(f"empty variable; named it {name!r}", tok))
        if not self.variables:
            for marker, var in self.markers.items():
                names[marker] = names[var]
            if self.concept_references:  # a node with a marker is referred to by it alone
                concepts: dict[str, list[str]] = {}
                for var, concept in _placeholders(node):
                    concepts.setdefault(concept.lower(), []).append(var)
                marked = set(self.markers.values())
                for atom in _atoms(node):
                    nodes = [v for v in concepts.get(atom, ()) if v not in marked]
                    if not is_concept_reference(atom) or not nodes:
                        continue
                    if len(nodes) > 1:
                        raise self.error(f"bare concept {atom} may name {len(nodes)} nodes")
                    names[atom] = names[nodes[0]]
            undefined = sorted(a for a in _atoms(node) if MARKER_RE.fullmatch(a)
                               and a not in self.markers)
            if undefined:
                raise self.error(f"re-entrancy marker {undefined[0]} refers to no node")
        return _freeze(node, names)


def _placeholder(offset: int) -> str:
    """A temporary variable that no real one can equal (named in `_Parser.resolve`)."""
    return f"\0{offset}"


def _placeholders(node):
    var, branches = node
    if var.startswith("\0"):
        yield var, branches[0][1]
    for _, target in branches[1:]:
        if isinstance(target, list):
            yield from _placeholders(target)


def _atoms(node) -> set[str]:
    out = set()
    for _, target in node[1][1:]:
        out |= _atoms(target) if isinstance(target, list) else {target}
    return out


def _freeze(node, names: dict[str, str]):
    var, branches = node
    out = [branches[0]]
    for role, target in branches[1:]:
        if isinstance(target, list):
            out.append((role, _freeze(target, names)))
        else:
            out.append((role, names.get(target, target)))
    return (names.get(var, var), out)


_NAME_CHAR_RE = re.compile(r"[^\W\d_]")
_PLAIN_SYMBOL_RE = re.compile(r"[^\W\d_][\w\-]*")
CONSTANT_WORDS = frozenset({"interrogative", "expressive", "imperative"})


def is_concept_reference(text: str) -> bool:
    """Whether a bare value of a variable-free graph may name a node by its concept: a
    plain lower-case symbol (`tôi`, `ông_hoàng`, `obligate-01`), not a `:mode` constant."""
    return bool(_PLAIN_SYMBOL_RE.fullmatch(text)) and text.islower() and text not in CONSTANT_WORDS


def fresh_variable(concept: str, taken: set[str]) -> str:
    """A VLSP-style variable: the concept's first letter, then digits if taken (n, n1, n2).

    The chosen name is added to `taken`.
    """
    m = _NAME_CHAR_RE.search(concept.strip('"'))
    base = m.group().lower() if m and m.start() == 0 else "x"
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}{k}"
    taken.add(name)
    return name


@dataclass(frozen=True)
class ParsedTree:
    tree: Tree
    warnings: list[AMRSyntaxError]


def parse_tree(text: str, *, variables: bool = True, concept_references: bool = False) -> ParsedTree:
    """Parse one graph (NFC-normalised first); raise `AMRSyntaxError` with line and column.
    With `variables=False` and `concept_references`, a bare plain symbol that is the
    concept of a node refers to that node (an error where several unmarked nodes have it).

    Lines and columns are relative to `text`; callers that read files shift them with
    `AMRSyntaxError.located`.
    """
    parser = _Parser(unicodedata.normalize("NFC", text), variables, concept_references)
    try:
        tree = parser.parse()
    except RecursionError:
        raise AMRSyntaxError("graph nested too deeply to read") from None
    return ParsedTree(tree, parser.warnings)
