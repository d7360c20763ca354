"""Repeated sibling subtrees (a decoding loop) cut to one copy, references kept valid."""

import penman

from visempar.amr import format_graph, parse_graph
from visempar.amr.dedupe import drop_repeated_siblings
from visempar.amr.graph import to_graph, to_tree


def dedupe(text: str) -> tuple[str, int]:
    tree, dropped = drop_repeated_siblings(to_tree(parse_graph(text)))
    return format_graph(to_graph(tree), "oneline"), dropped


def test_identical_siblings_keep_one_copy_whatever_their_variables():
    text = "(a / ăn :agent (m / mèo :mod (d / đen)) :agent (m2 / mèo :mod (d2 / đen)) :patient (c / cá))"
    assert dedupe(text) == ("(a / ăn :agent (m / mèo :mod (d / đen)) :patient (c / cá))", 1)


def test_siblings_that_differ_in_role_concept_or_children_all_stay():
    for text in ("(a / ăn :agent (m / mèo) :patient (m2 / mèo))",
                 "(a / ăn :agent (m / mèo) :agent (c / chó))",
                 "(a / ăn :agent (m / mèo :mod (d / đen)) :agent (m2 / mèo :mod (t / trắng)))",
                 "(a / ăn :agent (m / mèo :mod (d / đen)) :agent (m2 / mèo))"):
        assert dedupe(text) == (format_graph(parse_graph(text), "oneline"), 0), text


def test_a_reference_into_a_dropped_copy_points_at_the_kept_one():
    text = ("(a / and :op1 (n / nói :agent (t / tôi)) :op1 (n2 / nói :agent (t2 / tôi))"
            " :op2 (c / cười :agent t2))")
    out, dropped = dedupe(text)
    assert dropped == 1
    assert out == "(a / and :op1 (n / nói :agent (t / tôi)) :op2 (c / cười :agent t))"
    graph = penman.decode(out)
    assert {t.source for t in graph.instances()} >= {e.target for e in graph.edges()}


def test_loops_at_several_depths_are_all_cut_and_counted():
    text = ("(a / and :op1 (b / bạn :mod (x / xấu) :mod (x2 / xấu) :mod (x3 / xấu))"
            " :op1 (b2 / bạn :mod (x4 / xấu)))")
    assert dedupe(text) == ("(a / and :op1 (b / bạn :mod (x / xấu)))", 3)


def test_a_graph_without_repeats_is_returned_as_it_was():
    tree = to_tree(parse_graph("(a / ăn :agent (m / mèo) :patient (c / cá))"))
    assert drop_repeated_siblings(tree) == (tree, 0)


def test_a_reference_into_a_copy_inside_a_dropped_copy_reaches_the_kept_node():
    text = ("(a / and :op1 (b / bạn :mod (x / xấu))"
            " :op1 (b2 / bạn :mod (x4 / xấu) :mod (x5 / xấu)) :op2 (c / chê :patient x5))")
    out, dropped = dedupe(text)
    assert out == "(a / and :op1 (b / bạn :mod (x / xấu)) :op2 (c / chê :patient x))" and dropped == 2
