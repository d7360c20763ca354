"""Repair: any model output becomes a valid graph, keeping what it can (failure mode D1)."""

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from visempar.amr import format_graph, parse_graph, parse_tree, read_corpus, to_graph
from visempar.amr.repair import repair
from visempar.cli import main
from visempar.eval.smatch import reference_triples
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


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='()/:" \nabcđ01-*_', max_size=60))
def test_repair_of_random_garbage_is_always_valid(text):
    assert_valid(repair(text))


@settings(max_examples=200, deadline=None)
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
