"""The negation pass: `:polarity -` on the word after a negator, only where none is."""

from visempar.amr import format_graph, parse_graph
from visempar.data.words import Words
from visempar.passes.negation import mark_negation


def marked(sentence: str, text: str) -> tuple[str, int]:
    graph, added = mark_negation(Words.of(sentence), parse_graph(text))
    return format_graph(graph, "oneline"), added


def test_the_word_after_the_negator_gets_the_polarity():
    assert marked("dân không hiểu chủ trương", "(h / hiểu :agent (d / dân) :theme (c / chủ trương))") == (
        "(h / hiểu :agent (d / dân) :theme (c / chủ trương) :polarity -)", 1)


def test_a_multiword_concept_starting_with_the_word_counts():
    assert marked("tôi chưa hiểu biết gì", "(h / hiểu biết :pivot (t / tôi))") == (
        "(h / hiểu biết :pivot (t / tôi) :polarity -)", 1)


def test_nothing_changes_without_a_negator_a_matching_node_or_when_a_polarity_is_there():
    for sentence, text in [("dân hiểu chủ trương", "(h / hiểu :agent (d / dân))"),
                           ("dân không về", "(h / hiểu :agent (d / dân))"),
                           ("dân không hiểu", "(h / hiểu :agent (d / dân :polarity -))"),
                           ("không", "(k / không)")]:
        assert marked(sentence, text) == (format_graph(parse_graph(text), "oneline"), 0), sentence
