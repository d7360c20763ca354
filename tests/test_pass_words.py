"""The passes that read the sentence's words: `copy_words` respells misspelled ones,
`surplus_words` drops the leaves it does not license."""

from visempar.amr import format_graph, parse_graph
from visempar.data.words import Words
from visempar.passes.copy_words import edit_distance, respell_words
from visempar.passes.surplus_words import drop_surplus


def respelled(sentence: str, text: str) -> tuple[str, int]:
    graph, n = respell_words(Words.of(sentence), parse_graph(text))
    return format_graph(graph, "oneline"), n


def test_a_near_miss_of_a_sentence_phrase_takes_its_spelling():
    assert respelled("hiện nay xã có 68 tổ", "(c / có :time (h / hện nay) :agent (x / xã))") == (
        "(c / có :time (h / hiện nay) :agent (x / xã))", 1)
    assert respelled("chúng tôi vẫn tiếp tục điều tra", "(t / thiếp tục :agent (c / chúng tôi))") == (
        "(t / tiếp tục :agent (c / chúng tôi))", 1)


def test_english_concepts_far_words_and_sentence_words_stay():
    for sentence, text in [("anh và em", "(a / and :op1 (a1 / anh) :op2 (e / em))"),   # `and` is ASCII
                           ("trời mưa to", "(m / mưa :agent (t / trời) :mod (b / bão))"),   # too far
                           ("trời mưa to", "(m / mưa :agent (t / trời))")]:
        assert respelled(sentence, text) == (format_graph(parse_graph(text), "oneline"), 0), text


def test_edit_distance():
    assert [edit_distance(a, b) for a, b in [("", "abc"), ("tiếp", "thiếp"), ("abc", "abc"), ("ab", "ba")]] == [3, 1, 0, 2]


def test_leaves_repeating_a_word_more_often_than_the_sentence_says_it_go():
    loop = "(n / nhắc :agent (a / anh) :time (l / lại :mod (a2 / anh) :mod (a3 / anh)) :theme (c / coi))"
    graph, dropped = drop_surplus(Words.of("anh nhắc lại : coi"), parse_graph(loop))
    assert (format_graph(graph, "oneline"), dropped) == ("(n / nhắc :agent (a / anh) :time (l / lại) :theme (c / coi))", 2)
    kept = [("anh nói với anh", "(n / nói :agent (a / anh) :beneficiary (a2 / anh))"),    # said twice
            ("anh nói", "(n / nói :agent (a / anh) :mod (a2 / anh :mod (t / to)))"),        # not a leaf
            ("anh nói", "(a / anh :mod (a2 / anh))".replace("(a2 / anh)", "a")),            # a re-entrancy
            ("nói", "(n / nói :agent (a / anh) :mod (a2 / anh))")]                           # not a word of it
    for sentence, text in kept:
        assert drop_surplus(Words.of(sentence), parse_graph(text))[1] == 0, text


def test_a_vietnamese_leaf_the_sentence_does_not_have_goes_an_english_one_stays():
    graph, dropped = drop_surplus(Words.of("anh nói"), parse_graph("(n / nói :agent (a / anh) :mod (đ / đẹp) :time (b / before))"))
    assert (format_graph(graph, "oneline"), dropped) == ("(n / nói :agent (a / anh) :time (b / before))", 1)


def test_a_graph_spelling_concepts_with_underscores_keeps_its_spelling():
    # train_amr_1 and the VLSP 2025 winner join multi-word concepts with `_`: a sentence
    # word spelled so is no misspelling, and a respelled one keeps the graph's joiner
    correct = "(t / tiếp_tục :agent (ô / ông_hoàng))"
    assert respelled("ông hoàng tiếp tục", correct) == (correct, 0)
    assert respelled("ông_hoàng tiếp_tục", correct) == (correct, 0)
    assert respelled("chúng tôi vẫn tiếp tục", "(t / thiếp_tục)") == ("(t / tiếp_tục)", 1)


def test_the_words_of_a_name_and_its_wiki_are_never_surplus():
    # the name's word and its wiki both spell `Úc`, said once: neither counts against the other
    text = '(đ / đến :agent (t / tôi) :destination (c / country :name (n / name :op1 (u / Úc)) :wiki (w / Úc)))'
    assert drop_surplus(Words.of("tôi đến Úc"), parse_graph(text))[1] == 0
    # while the same word as plain leaves, past what the sentence says, still goes
    graph, dropped = drop_surplus(Words.of("tôi đến Úc"), parse_graph(text.replace("(t / tôi)", "(t / tôi :mod (u2 / úc) :mod (u3 / úc))")))
    assert (format_graph(graph, "oneline"), dropped) == (text.replace("(t / tôi)", "(t / tôi :mod (u2 / úc))"), 1)
    # a name's words the sentence spells otherwise (`Mỹ` as `mĩ`) stay too
    name = '(c / country :name (n / name :op1 (m / mĩ)) :wiki (w / Mĩ))'
    assert drop_surplus(Words.of("nước Mỹ"), parse_graph(name))[1] == 0


def test_a_dropped_leaf_whose_variable_spells_another_concept_takes_only_itself():
    """From a real public-test output: the leaf `ủ` (`ủ Ngưa`) goes, and the node `ủ1`,
    whose concept is the string `ủ`, keeps it (a concept is never a variable)."""
    graph = parse_graph("(t / triệu :theme (ẩ / ẩu :mod (ủ / ủ_ngưa)) :location (h / hộ :prep (ủ1 / ủ)))")
    new, dropped = drop_surplus(Words.of("80 triệu ủng hộ ủ"), graph)
    assert dropped == 1
    assert ("ủ1", ":instance", "ủ") in new.triples and ("h", ":prep", "ủ1") in new.triples
    assert format_graph(new, "oneline") == "(t / triệu :theme (ẩ / ẩu) :location (h / hộ :prep (ủ1 / ủ)))"
