"""Variable-free notation: re-entrancies survive strip -> restore (failure mode D4)."""

import penman
import pytest
from hypothesis import given, settings

from visempar.amr import (AMRSyntaxError, canonical_triples, format_graph, parse_graph,
                          restore_variables, strip_variables, to_graph)
from tests.strategies import trees

GRAPH = "(m / muốn :pivot(t / tôi) :topic(đ / đi :agent t :purpose(h / học)))"


def test_strip_marks_reentrant_nodes_and_references():
    assert strip_variables(parse_graph(GRAPH)) == (
        "(muốn :pivot (tôi *1) :topic (đi :agent *1 :purpose (học)))")


def test_concept_references_name_a_node_by_its_concept_where_no_other_node_has_it():
    graph = parse_graph(GRAPH)
    assert strip_variables(graph, references="concepts") == (
        "(muốn :pivot (tôi) :topic (đi :agent tôi :purpose (học)))")
    assert canonical_triples(restore_variables(strip_variables(graph, references="concepts"),
                                               references="concepts")) == \
        canonical_triples(graph)


@pytest.mark.parametrize("graph, text", [
    # another node has the concept: a marker, so the reference names one node
    ("(n / nói :agent (t / tôi) :topic (t2 / thấy :agent t :theme (t3 / tôi)))",
     "(nói :agent (tôi *1) :topic (thấy :agent *1 :theme (tôi)))"),
    # a constant spells the concept: restore would take it for a reference
    ("(n / nói :agent (t / tôi) :topic (t2 / thấy :agent t) :mod tôi)",
     "(nói :agent (tôi *1) :topic (thấy :agent *1) :mod tôi)"),
    # a concept that is not a plain lower-case symbol
    ('(n / nói :agent (p / Nam) :topic (t / thấy :agent p))',
     "(nói :agent (Nam *1) :topic (thấy :agent *1))"),
])
def test_concept_references_fall_back_to_markers_where_the_concept_would_not_name_the_node(graph, text):
    g = parse_graph(graph)
    assert strip_variables(g, references="concepts") == text
    assert canonical_triples(restore_variables(text, references="concepts")) == canonical_triples(g)


def test_a_bare_concept_that_several_nodes_have_is_an_error_when_read_strictly():
    text = "(nói :agent (em) :topic (thấy :theme (em) :agent em))"
    with pytest.raises(AMRSyntaxError, match="bare concept em may name 2 nodes"):
        restore_variables(text, references="concepts")
    assert restore_variables(text).attributes(role=":agent")[0].target == "em"  # markers: a constant


def test_restore_names_variables_the_vlsp_way_and_keeps_reentrancy():
    g = restore_variables("(nói :agent (người *1) :topic (nói :agent *1 :polarity -) "
                          ":time (date-entity :year 1975) :mod (19))")
    assert format_graph(g, "oneline") == (
        "(n / nói :agent (n1 / người) :topic (n2 / nói :agent n1 :polarity -) "
        ":time (d / date-entity :year 1975) :mod (x / 19))")


def test_restored_variables_never_collide_with_constants():
    g = restore_variables("(an :value a :mod (ăn))")
    assert ("a1", ":instance", "an") in g.triples and ("a1", ":value", "a") in g.triples


def test_constant_that_looks_like_a_marker_is_quoted_not_taken_for_a_reference():
    g = penman.Graph([("a", ":instance", "b"), ("a", ":op1", "*1")])
    assert strip_variables(g) == '(b :op1 "*1")'
    assert restore_variables(strip_variables(g)).attributes()[0].target == '"*1"'


@pytest.mark.parametrize("text, reason", [
    ("(a :mod *2)", "re-entrancy marker *2 refers to no node"),
    ("(a *1 :mod (b *1))", "marker *1 is defined twice"),
    ("(a :mod (b)", "never closed"),
])
def test_restore_rejects_malformed_notation(text, reason):
    with pytest.raises(AMRSyntaxError, match=reason.replace("*", r"\*")):
        restore_variables(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(trees())
def test_restore_of_strip_gives_the_same_triples_on_random_graphs(tree):
    graph = to_graph(tree)
    for style in ("oneline", "vlsp"):
        for references in ("markers", "concepts"):
            assert canonical_triples(restore_variables(strip_variables(graph, style, references), references=references)) == \
                canonical_triples(graph)


def test_restore_of_strip_is_exact_on_the_sample_corpus(sample_corpora):
    for corpus in sample_corpora.values():
        for e in corpus:
            for references in ("markers", "concepts"):
                assert canonical_triples(restore_variables(strip_variables(e.graph, references=references), references=references)) == \
                    canonical_triples(e.graph), e.location
