"""Statistics, overlap and the deterministic split (failure modes C4, D8)."""

import pytest

from visempar.amr import CorpusError, Example, parse_graph
from visempar.data.corpus import (corpus_stats, overlap, read_sentences, sentence_key,
                                  split_examples, summary)
from tests.conftest import write


def ex(sentence, graph="(a / a)", line=1):
    return Example(sentence, parse_graph(graph), "f.txt", line)


def test_sentence_key_ignores_case_segmentation_and_spacing():
    assert sentence_key("Tôi sa vào một hiệu thợ_may .") == \
        sentence_key("tôi  sa vào một hiệu thợ may .")


def test_summary_uses_nearest_rank_percentiles():
    assert summary(list(range(1, 11))) == {"mean": 5.5, "p50": 5, "p90": 9, "max": 10}
    assert summary([]) == {"mean": 0.0, "p50": 0.0, "p90": 0.0, "max": 0.0}


def test_corpus_stats_figures():
    examples = [ex("tôi đi học .", "(m / muốn :pivot(t / tôi) :topic(đ / đi :agent t))"),
                ex("Tôi đi học .", "(c / công_việc :mod(t / thuận lợi))"),
                ex("hai .", "(h / hai)")]
    s = corpus_stats(examples)
    assert (s["graphs"], s["sentences"], s["distinct_sentences"], s["duplicate_sentences"]) \
        == (3, 3, 2, 1)
    assert s["nodes_per_graph"] == {"mean": 2.0, "p50": 2, "p90": 3, "max": 3}
    assert s["triples_per_graph"]["max"] == 7  # 3 instances + 3 edges + TOP
    assert (s["reentrancies"], s["graphs_with_reentrancy"]) == (1, 1)
    assert s["concept_spelling"] == {"single": 4, "space": 1, "underscore": 1}


def test_overlap_counts_distinct_shared_sentences():
    assert overlap({"a": ["x y", "Z", "z"], "b": ["z", "w"], "c": ["x_y"]}) == {
        "a <> b": 1, "a <> c": 1, "b <> c": 0}


def test_read_sentences_from_lines_or_from_a_corpus(tmp_path):
    assert read_sentences(write(tmp_path, "t.txt", "Một .\n\n hai .\n")) == ["Một .", "hai ."]
    corpus = write(tmp_path, "c.txt", "#::snt một .\n(m / một)\n\n# ::snt hai .\n(h / hai)\n")
    assert read_sentences(corpus) == ["một .", "hai ."]


def sample(n=100):
    return [ex(f"câu {i // 2 if i < 20 else i} .", line=i) for i in range(n)]


def test_split_is_deterministic_sized_and_keeps_duplicates_together():
    a = split_examples(sample(), 0.2, seed=1)
    b = split_examples(list(reversed(sample())), 0.2, seed=1)
    assert {e.line for e in a.dev} == {e.line for e in b.dev}
    assert 20 <= len(a.dev) <= 21 and len(a.train) + len(a.dev) == 100
    dev_keys = {sentence_key(e.sentence) for e in a.dev}
    assert not dev_keys & {sentence_key(e.sentence) for e in a.train}
    assert {e.line for e in split_examples(sample(), 0.2, seed=2).dev} != {e.line for e in a.dev}


def test_split_refuses_test_overlap_unless_excluded():
    examples = sample()
    with pytest.raises(CorpusError, match=r"2 example\(s\) have a sentence of the test input "
                                         r"\(first: f.txt:10, f.txt:11\)"):
        split_examples(examples, 0.2, 0, test_sentences=["Câu_5 ."])
    result = split_examples(examples, 0.2, 0, test_sentences=["Câu_5 ."], exclude_test=True)
    assert [e.line for e in result.excluded] == [10, 11]
    assert len(result.train) + len(result.dev) == 98


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_split_rejects_impossible_fractions(fraction):
    with pytest.raises(CorpusError, match="between 0 and 1"):
        split_examples(sample(), fraction, 0)


def test_a_split_like_a_test_file_gives_dev_the_tests_sentence_lengths():
    import penman

    from visempar.amr.io import Example
    from visempar.data.corpus import length_quotas, split_examples

    graph = penman.decode("(a / a)")
    examples = [Example(" ".join(f"w{i}x{k}" for k in range(1 + i % 30)), graph) for i in range(600)]
    like = [" ".join(["t"] * n) for n in (18, 20, 22, 25, 28, 30) * 5]
    plain = split_examples(examples, 0.1, seed=3)
    alike = split_examples(examples, 0.1, seed=3, like=like)
    mean = lambda xs: sum(len(e.sentence.split()) for e in xs) / len(xs)  # noqa: E731
    assert len(alike.dev) == len(plain.dev) == 60 and len(alike.train) == 540
    assert abs(mean(alike.dev) - 23.8) < 1.0 and abs(mean(plain.dev) - 15.5) < 3.0
    assert split_examples(examples, 0.1, seed=3, like=like).dev == alike.dev   # deterministic
    edges, quotas = length_quotas(like, 60)
    assert sum(quotas) == 60 and edges[0] == 17 and edges[-1] > 30
