"""Concept spelling: one switch, and reading never respells unasked (failure mode D5)."""

import pytest

from visempar.amr import format_graph, normalize_concepts, parse_graph, read_corpus, respell
from visempar.amr.concepts import spelling_counts
from tests.conftest import write

TEXT = '(c / chủ_tịch :mod(x / xã  hội) :name(n / name :op1 "Bùi_Văn") :wiki(w / Hà_Nội))'


@pytest.mark.parametrize("concept, space, underscore", [
    ("chủ_tịch", "chủ tịch", "chủ_tịch"),
    ("chủ tịch", "chủ tịch", "chủ_tịch"),
    ("thay_đổi lớn", "thay đổi lớn", "thay_đổi_lớn"),
    ("contrast-01", "contrast-01", "contrast-01"),
    ('"Bùi_Văn"', '"Bùi_Văn"', '"Bùi_Văn"'),
])
def test_respell_writes_a_concept_in_either_spelling_and_leaves_quotes_and_frames(concept, space, underscore):
    assert (respell(concept, "space"), respell(concept, "underscore")) == (space, underscore)


def test_normalize_concepts_changes_only_concepts_and_keeps_wiki_titles():
    g = parse_graph(TEXT)
    assert format_graph(normalize_concepts(g, "space"), "oneline") == (
        '(c / chủ tịch :mod (x / xã hội) :name (n / name :op1 "Bùi_Văn") :wiki (w / Hà_Nội))')
    assert spelling_counts([g]) == {"underscore": 1, "space": 1, "single": 1}


def test_reader_keeps_spelling_unless_asked(tmp_path):
    path = write(tmp_path, "c.txt", f"#::snt chủ tịch xã .\n{TEXT}\n")
    kept = read_corpus(path).examples[0].graph
    spaced = read_corpus(path, concepts="space").examples[0].graph
    assert kept.triples == parse_graph(TEXT).triples
    assert {i.target for i in spaced.instances()} == {"chủ tịch", "xã hội", "name", "Hà_Nội"}
