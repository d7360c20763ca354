"""The writers produce the VLSP layout and one-line PENMAN, and read back to the same triples."""

import penman
from hypothesis import given, settings

from visempar.amr import format_graph, parse_graph, to_graph
from tests.strategies import trees

VLSP_TEXT = """(c / cho
    :agent(h / họ)
    :topic(c1 / có
        :pivot(đ / đối thủ)
        :theme(c2 / cơ hội
            :mod(t / tấn công
                :patient h
                :agent đ)))
    :polarity -)"""


def test_vlsp_layout_is_reproduced_exactly():
    assert format_graph(parse_graph(VLSP_TEXT)) == VLSP_TEXT


def test_oneline_layout():
    assert format_graph(parse_graph(VLSP_TEXT), "oneline") == (
        "(c / cho :agent (h / họ) :topic (c1 / có :pivot (đ / đối thủ) :theme (c2 / cơ hội "
        ":mod (t / tấn công :patient h :agent đ))) :polarity -)")


def test_constants_that_would_not_survive_as_symbols_are_quoted():
    g = penman.Graph([("a", ":instance", "b"), ("a", ":op1", "hai từ"), ("a", ":op2", "(x)")])
    assert format_graph(g, "oneline") == '(a / b :op1 "hai từ" :op2 "(x)")'


@settings(max_examples=300, deadline=None, derandomize=True)
@given(trees())
def test_write_then_read_keeps_the_triples_in_both_styles(tree):
    graph = to_graph(tree)
    for style in ("vlsp", "oneline"):
        again = parse_graph(format_graph(graph, style))
        assert again.triples == graph.triples and again.top == graph.top
