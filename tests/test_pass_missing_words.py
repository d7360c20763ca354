"""The word -> concept lexicon of the training graphs, and the words it adds back."""

from visempar.amr import format_graph, parse_graph
from visempar.amr.io import Example
from visempar.data.lexicon import Lexicon
from visempar.data.words import Words
from visempar.passes.missing_words import add_missing


def lexicon() -> Lexicon:
    examples = [Example(f"mèo {i} ăn cá của tôi", parse_graph("(ă / ăn :agent (m / mèo) :patient (c / cá))"))
                for i in range(6)]
    return Lexicon.fit(examples)


def test_a_word_that_is_usually_a_concept_is_added_with_its_commonest_role():
    lex = lexicon()
    assert lex.likely("cá") == ":patient" and lex.likely("mèo") == ":agent"
    assert lex.likely("của") is None and lex.likely("chó") is None       # never a concept; never seen
    graph, added = add_missing(Words.of("mèo ăn cá của tôi"), parse_graph("(ă / ăn :agent (m / mèo))"), lex)
    assert (format_graph(graph, "oneline"), added) == ("(ă / ăn :agent (m / mèo) :patient (c / cá))", 1)


def test_the_added_word_hangs_beside_its_nearest_neighbour_in_the_graph():
    graph, added = add_missing(Words.of("tôi thấy mèo ăn cá"), parse_graph(
        "(t / thấy :agent (t2 / tôi) :theme (ă / ăn :agent (m / mèo)))"), lexicon())
    assert (format_graph(graph, "oneline"), added) == (
        "(t / thấy :agent (t2 / tôi) :theme (ă / ăn :agent (m / mèo) :patient (c / cá)))", 1)
    graph, _ = add_missing(Words.of("cá"), parse_graph("(x / xem)"), lexicon())  # no neighbour: the root
    assert format_graph(graph, "oneline") == "(x / xem :patient (c / cá))"


def test_nothing_is_added_when_every_likely_word_is_there():
    text = "(ă / ăn :agent (m / mèo) :patient (c / cá))"
    assert add_missing(Words.of("mèo ăn cá"), parse_graph(text), lexicon())[1] == 0


def test_a_word_seen_fewer_than_five_times_is_not_trusted():
    few = Lexicon.fit([Example("cá", parse_graph("(c / cá)"))] * 4)
    assert few.likely("cá") is None and Lexicon.fit([Example("cá", parse_graph("(c / cá)"))] * 5).likely("cá") == ":mod"


def test_the_lexicon_round_trips_through_its_json_form():
    lex = lexicon()
    assert Lexicon.from_dict(lex.to_dict()) == lex
