"""The reader accepts every quirk of the real VLSP files and says where input is wrong."""

import pytest

from visempar.amr import AMRSyntaxError, CorpusError, parse_graph, parse_tree, read_corpus
from tests.conftest import write


def triples(text):
    return set(parse_graph(text).triples)


def test_role_glued_to_parenthesis_equals_spaced_role():
    glued = "(b / bi_kịch\n    :domain(c / chỗ\n        :mod(đ / đó)))"
    spaced = "(b / bi_kịch :domain (c / chỗ :mod (đ / đó)))"
    assert triples(glued) == triples(spaced) == {
        ("b", ":instance", "bi_kịch"), ("b", ":domain", "c"), ("c", ":instance", "chỗ"),
        ("c", ":mod", "đ"), ("đ", ":instance", "đó")}


def test_multiword_concepts_with_spaces_and_underscores_are_kept_as_written():
    g = parse_graph("(t / thuận lợi :domain(c / công_việc) :degree(n / ngày   càng))")
    assert {i.target for i in g.instances()} == {"thuận lợi", "công_việc", "ngày càng"}


def test_non_ascii_and_numeric_variables():
    g = parse_graph("(đ / đi :agent(ở / ở) :time(d / date-entity :day(1 / 19) :month 1))")
    assert ("d", ":month", "1") in g.edges()  # `1` is a variable, so this is a re-entrancy
    assert ("1", ":instance", "19") in g.triples
    assert set(g.variables()) == {"đ", "ở", "d", "1"}


def test_reentrancy_is_a_bare_defined_variable_even_before_its_definition():
    g = parse_graph("(c / cho :topic(t / tấn công :patient h) :agent(h / họ))")
    assert ("t", ":patient", "h") in g.edges()


def test_quoted_and_unquoted_name_parts_and_wiki_dash():
    g = parse_graph('(p / person :wiki - :name(n / name :op1 "Bùi Văn" :op2 Luyến '
                    ':op3(wz3 / Bùi)) :email an.hus@gmail.com)')
    assert {(a.role, a.target) for a in g.attributes()} == {
        (":wiki", "-"), (":op1", '"Bùi Văn"'), (":op2", "Luyến"),
        (":email", "an.hus@gmail.com")}
    assert ("n", ":op3", "wz3") in g.edges()


def test_empty_variable_is_named_with_a_warning_naming_file_and_line(tmp_path):
    path = write(tmp_path, "c.txt", "#::snt năm 1900 .\n(r / ra\n    :time(d / date-entity\n"
                                    "        :year( / 1900)))\n")
    corpus = read_corpus(path)
    (warning,) = corpus.warnings
    assert (warning.path, warning.line) == (str(path), 4) and "empty variable" in str(warning)
    assert ("x", ":instance", "1900") in corpus.examples[0].graph.triples


def test_slash_glued_to_concept_typo_of_the_real_files_is_read_with_a_warning():
    result = parse_tree("(a /__and\n    :op1(t / thiếu))")
    assert result.tree.node[1][0] == ("/", "and")
    assert "'/__and' read as '/ and'" in str(result.warnings[0])


def test_variable_and_concept_written_without_spaces():
    assert triples("(b/bi :mod(c/chỗ))") == triples("(b / bi :mod(c / chỗ))")


def test_text_is_nfc_normalised():
    nfd = "(đ / \u0111i\u0301)"  # i + combining acute
    assert parse_graph(nfd).instances()[0].target == "\u0111\u00ed"


@pytest.mark.parametrize("text, line, column, reason", [
    ("(a / b\n  :c(d / e)", 2, 12, "never closed"),
    ("(a / b\n  :c(d / e)))", 2, 13, "text after the end"),
    ("(a / b :c(a / d))", 1, 11, "variable 'a' is defined twice (first at line 1, column 2)"),
    ("(a / b :c(d /))", 1, 14, "missing concept"),
    ("(a / b :c)", 1, 8, "role :c has no value"),
    ('(a / b :c "open)', 1, 11, "unterminated string"),
    ("(a / b :op1 Văn Luyến)", 1, 17, "several words"),
    ("(a b)", 1, 4, "expected '/'"),
    ("a / b", 1, 1, "a graph starts with '('"),
    ("", None, None, "empty graph"),
])
def test_malformed_graphs_raise_with_line_column_and_reason(text, line, column, reason):
    with pytest.raises(AMRSyntaxError) as err:
        parse_tree(text)
    assert (err.value.line, err.value.column) == ((line, column) if line else (1, 1))
    assert reason in err.value.reason


def test_errors_in_a_file_name_the_file_and_the_file_line(tmp_path):
    path = write(tmp_path, "bad.txt", "#::snt một .\n(m / một)\n\n#::snt hai .\n(h / hai\n"
                                      "    :mod(x / y)\n    :mod)\n")
    with pytest.raises(AMRSyntaxError) as err:
        read_corpus(path)
    assert str(err.value) == f"{path}:7:5: role :mod has no value"


def test_skip_mode_counts_bad_blocks_and_keeps_the_good_ones(tmp_path):
    path = write(tmp_path, "mixed.txt", "#::snt một .\n(m / một)\n\n#::snt hai .\n(h / hai\n\n"
                                        "#::snt ba .\n\n#::snt bốn .\n(b / bốn)\n")
    corpus = read_corpus(path, on_error="skip")
    assert [e.sentence for e in corpus] == ["một .", "bốn ."]
    assert corpus.blocks == 4
    assert [(e.line, e.reason.split(" (")[0]) for e in corpus.errors] == [
        (5, "the node opened at line 1, column 1 is never closed"),
        (7, "block has a sentence but no graph")]


def test_crlf_bom_tabs_in_separators_and_hash_space_snt(tmp_path):
    text = ("\ufeff#::snt một .\n(m / một)\n \t \n# ::snt hai .\n# ::id x.2\n(h / hai)\n"
            "\t\n\n\n#::snt ba .\n(b / ba)\n#::snt bốn .\n(b / bốn)")
    corpus = read_corpus(write(tmp_path, "crlf.txt", text, newline="\r\n"))
    assert [e.sentence for e in corpus] == ["một .", "hai .", "ba .", "bốn ."]
    assert [e.line for e in corpus] == [1, 4, 10, 12]
    assert corpus.examples[1].graph.metadata == {"snt": "hai .", "id": "x.2"}


def test_blank_line_inside_an_unfinished_graph_does_not_split_it(tmp_path):
    corpus = read_corpus(write(tmp_path, "gap.txt", "#::snt a .\n(a / a\n\n    :mod(b / b))\n"))
    assert len(corpus) == 1 and len(corpus.examples[0].graph.triples) == 3


@pytest.mark.parametrize("content, message", [
    (b"", "no sentence/graph blocks found"),
    (b"\r\n  \r\n", "no sentence/graph blocks found"),
    (b"#::snt a\n(a / \xff)\n", "not valid UTF-8"),
])
def test_unusable_files_are_corpus_errors(tmp_path, content, message):
    path = tmp_path / "f.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        read_corpus(path)


def test_missing_file_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "nope.txt")


def test_graphs_one_per_line_without_metadata_are_one_block_each(tmp_path):
    """A system's output written one graph per line scores as the same graphs in blocks;
    a second graph inside a block that has its sentence stays in that block."""
    from visempar.amr import format_graph
    from visempar.amr.io import iter_blocks
    from visempar.data.corpus import sample_path
    from visempar.scoring.files import score_files

    gold = read_corpus(sample_path("test"))
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(format_graph(e.graph, "oneline") + "\n" for e in gold), encoding="utf-8")
    report, extra = score_files(lines, sample_path("test"), workers=1)
    assert report.pairs == len(gold.examples) and report.invalid == 0
    assert report.f1 == score_files(sample_path("test"), sample_path("test"), workers=1)[0].f1
    assert extra["sentences"]["missing"] == len(gold.examples)
    two = list(iter_blocks("#::snt a\n(a / a)\n(b / b)\n\n#::snt c\n(c / c)\n"))
    assert [b.graph_lines for b in two] == [["(a / a)", "(b / b)"], ["(c / c)"]]
