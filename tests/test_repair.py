"""Repair: any model output becomes a valid graph, keeping what it can (failure mode D1)."""

import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from visempar.amr import format_graph, parse_graph, parse_tree, read_corpus, to_graph
from visempar.amr.repair import repair
from visempar.cli import main
from visempar.amr.lenient import as_read_from_file
from visempar.scoring.account import account
from visempar.scoring.triples import reference_triples
from tests.conftest import write
from tests.strategies import trees


def assert_valid(result):
    parse_tree(format_graph(result.graph))
    parse_tree(format_graph(result.graph, "oneline"))
    assert reference_triples(format_graph(result.graph, "oneline")) is not None


@pytest.mark.parametrize("text, expected, kinds", [
    ("Đồ thị:\n(m / muốn :pivot (t / tôi) :topic (đ / đi :agent t",
     "(m / muốn :pivot (t / tôi) :topic (đ / đi :agent t))", ["surrounding-text", "truncated"]),
    ("(m / muốn :pivot (t / tôi) :topic (t / tôi :mod (x / xa))) thanks",
     "(m / muốn :pivot (t / tôi :mod (x / xa)) :topic t)",
     ["surrounding-text", "duplicate-variable"]),
    ("(a / and :op1 (b / bé) :op2 (b / bò :mod (c / con)) :op3 b)",
     "(a / and :op1 (b / bé) :op2 (b1 / bò :mod (c / con)) :op3 b1)", ["duplicate-variable"]),
    ("(c / có :quant68 :theme (n / nhà :mod) :op1 Văn Luyến)",
     '(c / có :quant 68 :theme (n / nhà) :op1 "Văn Luyến")',
     ["role-glue", "dangling-role", "multi-word-value"]),
    ("(c / chủ_tịch :ARG1 (x / xã) :op2 (y / ý))", "(c / chủ tịch :ARG1 (x / xã) :op2 (y / ý))",
     ["concept-spelling"]),
    ("no graph here", "(e / empty)", ["no-graph"]),
])
def test_repairs(text, expected, kinds):
    result = repair(text)
    assert format_graph(result.graph, "oneline") == expected
    assert result.kinds == kinds
    assert_valid(result)


@pytest.mark.parametrize("text, expected, changes", [
    ("(a / b :)", "(a / b)", ["dangling-role: dropped a lone ':'"]),
    # numbered roles without a value are dropped, not split like a glued `:quant68`
    ("(a / b :op1 :arg1 :snt2 :quant68)", "(a / b :quant 68)",
     [f"dangling-role: dropped role :{r} without a value" for r in ("op1", "arg1", "snt2")]
     + ["role-glue: split ':quant68' into ':quant 68'"]),
    # a quoted multi-word value stands; an unquoted one, or several strings, become one string
    ('(c / city :name "Hà Nội" :wiki Hà Nội :mod "a" "b")', '(c / city :name "Hà Nội" :wiki "Hà Nội" :mod "a b")',
     ["multi-word-value: quoted the value of :wiki (Hà Nội)", 'multi-word-value: quoted the value of :mod ("a" "b")']),
    ("(a / b :ARG0/of (c / d))", "(a / b :ARG0-of (c / d))", ["unreadable-symbol: role :ARG0/of written :ARG0-of"]),
    ("(a / b :-of (c / d) :--of (e / f))", "(a / b :mod (c / d) :mod (e / f))",
     [f"missing-role: a role without a name (:{r}) read as :mod" for r in ("-of", "--of")]),
    ("(a / b :a gent-of (c / d))", "(a / b :agent-of (c / d))", ["role-glue: read ':a gent-of' as ':agent-of'"]),
    ("(v v2 / b)", "(vv2 / b)", ["unreadable-symbol: variable 'v v2' written 'vv2', as the reference reads it"]),
    ("(a / 1/2)", "(a / 1-2)", ["unreadable-symbol: concept '1/2' written '1-2'"]),
    ("(a / b (c / d))", "(a / b :mod (c / d))", ["missing-role: attached a node without a role as :mod"]),
    # `()` reads as nothing, and its `)` closes the node around it, as in the reference
    ("(a / b :x () :y (c / d))", "(a / b :y (c / d))", ["dangling-role: dropped a role with an empty node",
     "stray-paren: a ')' closed the graph early; the roles after it are attached to the root"]),
    ("(x(/ c :mod (d / e)))", "(x / c :mod (d / e))",
     ["unreadable-symbol: a '(' inside a node's variable was skipped, as the reference reads it",
      "stray-paren: dropped an extra ')'"]),
    ("(x(/ c", "(x / c)", ["unreadable-symbol: a '(' inside a node's variable was skipped, as the reference reads it",
                           "truncated: closed 1 parenthesis of a truncated graph"]),
    ('(a / b)  "', "(a / b)", ["unterminated-string: removed the opening quote of an unterminated string"]),
    ("y" * 50 + " (a / b)", "(a / b)", [f"surrounding-text: dropped text before the graph: '{'y' * 40}'"]),
    ("(a / b) ok: (c / d)", "(a / b)", ["surrounding-text: dropped text after the graph: 'ok: (c / d)'"]),
    ("(and (đi :agent (t / tôi)))", "(a / and :mod (đ / đi :agent (t / tôi)))",
     ["missing-role: attached a node without a role as :mod",
      "missing-variable: named 2 node(s) written without a variable (and, đi)"]),
    ("(a / b :x (c / d) junk (e / f))", "(a / b :x (c / d) :mod (e / f))",
     ["stray-token: dropped 'junk' where a role was expected", "missing-role: attached a node without a role as :mod"]),
    ("(a / b", "(a / b)", ["truncated: closed 1 parenthesis of a truncated graph"]),
    ("(a / b :x (c / d) junk", "(a / b :x (c / d))", ["stray-token: dropped 'junk' where a role was expected",
                                                      "truncated: closed 1 parenthesis of a truncated graph"]),
    ("(a / b :x (c / d", "(a / b :x (c / d))", ["truncated: closed 2 parentheses of a truncated graph"]),
    ("(a / b) (c / d :x (e / f))", "(a / b)",
     ["surrounding-text: dropped a second graph after the first was complete: '(c / d :x (e / f))'"]),
    ("(a / b) thanks", "(a / b)", ["surrounding-text: dropped text after the graph: 'thanks'"]),
    ("(a / b) thanks: bye", "(a / b)", ["surrounding-text: dropped text after the graph: 'thanks: bye'"]),
    ("(a / b) " + "x" * 50, "(a / b)", [f"surrounding-text: dropped text after the graph: '{'x' * 40}'"]),
])
def test_each_recovery_is_reported_as_done(text, expected, changes):
    """What the lenient reader did, to the character: the change list is what `repair`
    reports to a user, and its first word is the kind counted in reports."""
    result = repair(text)
    assert format_graph(result.graph, "oneline") == expected
    assert result.changes == changes


def test_text_without_a_graph_becomes_the_flagged_placeholder_node():
    result = repair("Xin lỗi, tôi không hiểu.")
    assert result.empty and result.graph.triples == [("e", ":instance", "empty")]
    assert result.changes == ["no-graph: no graph found; wrote the placeholder (e / empty)"]


def test_concepts_are_respelled_in_the_style_asked_for():
    text = "(c / chủ_tịch :mod (x / xã hội))"
    assert format_graph(repair(text).graph, "oneline") == "(c / chủ tịch :mod (x / xã hội))"
    underscore = repair(text, concepts="underscore")
    assert format_graph(underscore.graph, "oneline") == "(c / chủ_tịch :mod (x / xã_hội))"
    assert underscore.changes == ["concept-spelling: respelled multi-word concepts with underscores"]
    assert repair(text, concepts=None).changes == []


def test_valid_graphs_pass_unchanged(sample_corpora):
    for e in sample_corpora["dev"]:
        result = repair(format_graph(e.graph), concepts=None)
        assert result.changes == [] and result.graph.triples == e.graph.triples


def test_truncated_graph_keeps_every_complete_triple_before_the_cut(sample_corpora):
    for e in sample_corpora["test"]:
        text = format_graph(e.graph, "oneline")
        cut = repair(text[: len(text) * 2 // 3], concepts=None)
        assert_valid(cut)
        kept = set(cut.graph.triples)
        assert len(kept & set(e.graph.triples)) >= len(kept) - 2  # at most the cut node


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet='()/:" \nabcđ01-*_', max_size=60))
def test_repair_of_random_garbage_is_always_valid(text):
    assert_valid(repair(text))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(trees(), st.data())
def test_repair_of_mangled_graphs_is_always_valid(tree, data):
    text = format_graph(to_graph(tree), "oneline")
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    assert_valid(repair(text[:i] + data.draw(st.sampled_from(["", ")", "(", ":", '"'])) +
                        text[j:]))


def test_repair_command_keeps_blocks_and_reports(tmp_path):
    src = write(tmp_path, "out.txt", "#::snt một .\n(m / một :mod (\n\n#::snt hai .\n\n"
                                     "#::snt ba .\n(b / ba)\n")
    res = CliRunner().invoke(main, ["repair", str(src), str(tmp_path / "r.txt"), "--json",
                                    str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "3 graphs written" in res.output and "2 repaired, 1 without any graph" in res.output
    repaired = read_corpus(tmp_path / "r.txt")
    assert [e.sentence for e in repaired] == ["một .", "hai .", "ba ."]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["kinds"] == {"truncated": 1, "dangling-role": 1, "no-graph": 1}
    assert parse_graph("(b / ba)").triples == repaired.examples[2].graph.triples


# -- what the reference reads, repair keeps --------------------------------------------

REWRITES = ("missing-concept", "unreadable-symbol", "multi-word-value", "stray-token", "role-glue: read")


def _form(symbol: str) -> str:
    """A symbol as the reference may have rewritten it: no spaces, quotes, `:` or `_` (it
    deletes spaces inside concepts and turns a closing quote into `_`)."""
    return re.sub(r"[\s\"':_]", "", symbol.lower())


def unexplained(text, result) -> list:
    """The triples the reference reads in `text` that `result` lost and that no reported
    rewrite accounts for. Repair rewrites what cannot be written as the reference read it
    (an empty concept, quotes, `:` or `/` inside a concept or value, junk glued onto a
    role); each such change names its symbol, and a lost triple is accounted for only when
    it holds a symbol a rewrite names: the same text up to the reference's own rewriting,
    or named junk such as a `_` glued onto a role (or, for `missing-concept`, when it is a
    node's empty concept)."""
    survived = account(as_read_from_file(text), format_graph(result.graph, "oneline"))
    lost = survived.lost if survived else []
    rewrites = [c for c in result.changes if c.startswith(REWRITES)]
    named = [m for c in rewrites for m in re.findall(r"'([^']+)'|\"([^\"]+)\"|(:[^\s,()']+)", c)
             for m in m if m]
    words = {_form(m) for m in named} - {""}
    junk = {m.strip() for m in named if not _form(m) and m.strip()}
    # a stray token dropped before a role: the reference glued it onto that role's name
    stray = {_form(m) for c in rewrites if c.startswith("stray-token") for m in re.findall(r"'([^']+)'", c)} - {""}

    def accounted(triple) -> bool:
        if any(c.startswith("missing-concept") for c in rewrites) and not _form(triple[2]):
            return True
        parts = [_form(x) for x in triple if _form(x)]
        return (any(b in a or (a in b and not a.isalnum()) for a in words for b in parts)
                or any(j in x for j in junk for x in triple)
                or any(_form(triple[0]).startswith(s) for s in stray))

    return [t for t in lost if not accounted(t)]


def penman_self_loop(result):
    """penman writes `x :consist-of x` as `x :consist x`, which the reference (not inverting
    its three `-of` exceptions) reads differently: a known gap of the graph layer."""
    return any(e.source == e.target and e.role in (":consist", ":prep-on-behalf", ":prep-out")
               for e in result.graph.edges())


def kept(text, result):
    """The reference's triples of `text` (as read from a file) kept by `result`."""
    survived = account(as_read_from_file(text), format_graph(result.graph, "oneline"))
    return None if survived is None else (survived.kept, survived.total)


MUTATIONS = [")", "(", ":", '"', "/", " ", "_", ")_", "))", ":quant68", ":mod", "(x"]


@st.composite
def mangled(draw):
    """A random graph's text, in either layout, with up to three edits of the kinds real
    model output shows (stray or missing parentheses, glued or lone roles, quotes, cuts)."""
    text = format_graph(to_graph(draw(trees())), draw(st.sampled_from(["vlsp", "oneline"])))
    if draw(st.booleans()):
        text = text.replace(" :", ":").replace(" (", "(")  # `nhớ:agent(t / tôi)` glue
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 3)))
        text = text[:i] + draw(st.sampled_from(MUTATIONS + [""])) + text[j:]
    if draw(st.booleans()):
        text = text[: draw(st.integers(1, len(text)))]
    return text


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.filter_too_much])
@given(mangled())
def test_repair_keeps_every_triple_the_reference_reads(text):
    """Property: whatever the reference parser reads, the repaired graph read by the same
    parser contains all of it, up to variable names and concept spelling. Each triple lost
    must be one that a reported rewrite names (`unexplained`). Exempted here:
    a second graph after a complete one is dropped, a node written without a variable
    is a node (the reference glues its concept onto the next role's name), and text
    before the graph is dropped (the reference glues it onto the root's variable)."""
    result = repair(text)
    assert_valid(result)
    counts = kept(text, result)
    assume(counts is not None and "second graph" not in " ".join(result.changes))
    if "missing-variable" in result.kinds and not header_without_slash(text):
        # otherwise only empty variables, `( / 1900)`, were named: no exemption for those
        assert all("empty variable" in c for c in result.changes if c.startswith("missing-variable")), (
            text, result.changes)
    assume(not header_without_slash(text) and not penman_self_loop(result))
    assume("text before the graph" not in " ".join(result.changes))
    assert unexplained(text, result) == [], (text, result.changes)


def header_without_slash(text: str) -> bool:
    """A `(` whose header ends (at `:`, `(`, `)` or the end of a cut-off text) before any
    `/`: a node the reference never opens, gluing its text elsewhere, while repair keeps
    it as a node."""
    unquoted = re.sub(r'"[^"]*"', '""', as_read_from_file(text))  # quotes hide `/`, as in the reference
    return re.search(r'\([^/:()]*(?:[:()]|$)', unquoted) is not None


def test_a_paren_inside_a_variable_is_read_as_the_reference_reads_it():
    """`(x(0 / amr-unknown)`: the reference opens one node, at the `/`; so does repair."""
    text = "(x(0 / amr-unknown)"
    result = repair(text)
    assert kept(text, result) == (2, 2) and "unreadable-symbol" in result.kinds
    assert [t.target for t in result.graph.instances()] == ["amr-unknown"]
    assert repair("(đi(tôi))").graph.instances()[1].target == "tôi"   # no `/`: still two nodes


def balance_and_rename(text):
    """The 15-line baseline of the issue: balance parentheses, rename duplicate variables,
    respell multi-word concepts."""
    text = text[text.find("("):] if "(" in text else text
    depth, out = 0, []
    for c in text:
        if c == ")" and depth == 0:
            continue
        depth += (c == "(") - (c == ")")
        out.append(c)
    seen = {}

    def rename(m):
        var = m.group(1)
        seen[var] = seen.get(var, -1) + 1
        return f"({var}{seen[var] if seen[var] else ''} /"

    text = re.sub(r"\(\s*([^\s()/:\"]+)\s*/", rename, "".join(out) + ")" * depth)
    return re.sub(r"/\s*[^\s():\"]+", lambda m: m.group().replace("_", " "), text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(mangled())
def test_repair_keeps_what_balancing_and_renaming_keep(text):
    """Wherever the reference can read the baseline's fix, repair keeps all of the
    baseline's triples but those a rewrite names, and, where a repeated definition of the
    same concept became one node, one instance triple each."""
    baseline = as_read_from_file(balance_and_rename(text))
    assume(reference_triples(baseline) is not None)
    result = repair(text)
    got, total = kept(baseline, result)
    merged = sum(c.endswith("made a re-entrancy") for c in result.changes)
    assume("second graph" not in " ".join(result.changes) and "missing-variable" not in result.kinds
           and not penman_self_loop(result))
    others = unexplained(baseline, result)
    assert len(others) <= merged and all(label == "instance" for label, _, _ in others), \
        (text, baseline, result.changes, others)


@pytest.mark.parametrize("text, expected", [
    ("(n / nhớ:agent(t / tôi):theme(l / lời:topic(c / chuyện)))",
     "(n / nhớ :agent (t / tôi) :theme (l / lời :topic (c / chuyện)))"),
    ("(t / tin :ARG0 (a / ăn :agent (c / chủ_tịch))_:agent(p / person :name(n / name"
     " :op1 Bùi)) :theme (c2 / cơm))",
     "(t / tin :ARG0 (a / ăn :agent (c / chủ tịch)) :agent (p / person :name (n / name"
     " :op1 Bùi)) :theme (c2 / cơm))"),
    ("(a / ăn :agent (c / chủ_tịch))) :theme (c2 / cơm))",
     "(a / ăn :agent (c / chủ tịch) :theme (c2 / cơm))"),
    ("(đ / đưa :beneficiary-arg2(l / làm :beneficiary-arg1(c / chú)))",
     "(đ / đưa :beneficiary-arg2 (l / làm :beneficiary-arg1 (c / chú)))"),
    ("(vv 162007 / 2007 :mod (t / tôi))", "(vv162007 / 2007 :mod (t / tôi))"),
    ('(n / name :op1 "Bùi :op2 (x / xã))', "(n / name :op1 Bùi :op2 (x / xã))"),
])
def test_real_output_styles_keep_their_roles(text, expected):
    result = repair(text)
    assert format_graph(result.graph, "oneline") == expected
    assert unexplained(text, result) == []


# -- graphs written without variables: bare references restored ---------------------------

@pytest.mark.parametrize("text, expected, restored", [
    ("(and :op1(đi :agent(hắn)) :op2(chửi :agent h) :op4(đi :agent h))",
     "(a / and :op1 (đ / đi :agent (h / hắn)) :op2 (c / chửi :agent h) :op4 (đ1 / đi :agent h))",
     2),
    ("(cất :time(đi :agent(con)) :theme(gói :classifier(cái)) :agent con)",
     "(c / cất :time (đ / đi :agent (c1 / con)) :theme (g / gói :classifier (c2 / cái)) :agent c1)",
     1),  # by concept: `con` names the node `con`, not the nearer `cái`
    ("(nói :agent(tôi) :topic(thấy :agent(tôi) :theme(trời)) :time t1)",
     "(n / nói :agent (t / tôi) :topic (t1 / thấy :agent (t2 / tôi) :theme (t3 / trời)) :time t1)",
     1),  # t1: the second node whose concept starts with t, as VLSP numbers variables
    ("(đi :agent(hắn) :mode imperative :quant 2 :op1 Kha)",
     "(đ / đi :agent (h / hắn) :mode imperative :quant 2 :op1 Kha)", 0),
    ("(đi :agent(hắn) :time x)", "(đ / đi :agent (h / hắn) :time x)", 0),
    ('(đi :agent(hắn) :"x" h)', "(đ / đi :agent (h / hắn) :-x- h)", 1),  # a reference after a quoted role
    ("(muốn :pivot (tôi *1) :topic (đi :agent *1))",
     "(m / muốn :pivot (t / tôi) :topic (đ / đi :agent t))", 0),
    ("(nghĩ :pivot (ông_hoàng :mod (nhỏ)) :time (tiếp_tục :agent ông_hoàng))",
     "(n / nghĩ :pivot (ô / ông hoàng :mod (n1 / nhỏ)) :time (t / tiếp tục :agent ô))",
     1),  # a multi-word concept names its node too (graph_format: varfree-concepts)
])
def test_bare_references_are_restored(text, expected, restored):
    result = repair(text)
    assert format_graph(result.graph, "oneline") == expected
    assert result.restored == restored
    assert sum(c.startswith("restored-reference") for c in result.changes) == restored
    assert_valid(result)


def test_graphs_with_variables_keep_undefined_symbols_as_constants():
    """The reference reads `:agent h` as a constant where no node is `h`: so does repair."""
    result = repair("(đ / đi :agent (h1 / hắn) :time h)")
    assert format_graph(result.graph, "oneline") == "(đ / đi :agent (h1 / hắn) :time h)"
    assert result.restored == 0 and result.changes == []
