"""The passes after decoding as one room: one table, one order, one sentence form, and
what happens when two passes touch the same leaf."""

import unicodedata
from pathlib import Path

import pytest

from visempar.amr import format_graph, parse_graph
from visempar.config import ConfigError, load_config
from visempar.data.words import Words
from visempar.passes import KEYS, PASSES, PassError, Passes, run_passes
from visempar.passes.registry import table

ROOT = Path(__file__).resolve().parents[1]
ALL_ON = {p.key: p.on for p in PASSES}


def test_the_table_is_the_order_and_every_name_comes_from_it():
    assert KEYS == ("copy_words", "surplus_words", "missing_words", "names", "negation")
    assert Passes(**ALL_ON).switched_on() == KEYS
    assert Passes.named(["negation", "names"]).switched_on() == ("names", "negation")  # table order, not given order
    assert Passes().switched_on() == () and set(Passes().to_dict().values()) == {"none"}
    assert load_config(None).passes == Passes().to_dict()
    assert load_config("smollm2-vlsp-varfree").passes == ALL_ON
    assert Passes.of(load_config("smollm2-vlsp-varfree")) == Passes(**ALL_ON)
    assert Passes(**ALL_ON).needs_fitted() == ("missing_words",)


def test_the_docs_hold_the_table_as_the_registry_writes_it():
    assert table() in (ROOT / "docs" / "decoding.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("call", [
    lambda: Passes(names="capitalised"),
    lambda: Passes(nmes="capitalized"),
    lambda: Passes.named(["names", "coreference"]),
    lambda: Passes().updated({"surplus_words": "keep"}),
])
def test_an_unknown_pass_or_value_is_one_line_that_names_the_valid_ones(call):
    with pytest.raises(PassError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    assert "(none, capitalized)" in message or "the passes are copy_words" in message or "(none, drop)" in message


def test_a_config_refuses_a_misspelled_value_with_its_file_and_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: tiny\npasses:\n  names: capitalised\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: passes: names: 'capitalised' is not one of its values "
                                          r"\(none, capitalized\)"):
        load_config(path)


def test_a_config_written_before_the_passes_mapping_still_loads(tmp_path):
    """Run folders of earlier versions hold each pass as a key of its own, with `keep` as the
    off value of `surplus_words`."""
    path = tmp_path / "config.yaml"
    path.write_text("model: tiny\nnegation: next-word\nsurplus_words: keep\nnames: none\n", encoding="utf-8")
    assert Passes.of(load_config(path)) == Passes(negation="next-word")


def test_two_passes_on_one_leaf_run_in_the_table_order():
    """`copy_words` respells the model's `bùy` as the sentence's `bùi`; `names`, later in the
    table, then finds that leaf spelling a capitalised word and makes it the entity. In
    the other order `names` would find no speller and hang a second entity under the root."""
    sentence = "anh Bùi đi chợ"
    graph = parse_graph("(đ / đi :agent (a / anh) :mod (b / bùy) :destination (c / chợ))")
    out, changes = run_passes(Passes(copy_words="nearest", names="capitalized"), sentence, graph)
    assert changes == {"copy_words": 1, "names": 1}
    assert format_graph(out, "oneline") == (
        "(đ / đi :agent (a / anh) :mod (b / person :name (n / name :op1 (b1 / Bùi)) :wiki -) "
        ":destination (c / chợ))")
    reversed_order, _ = run_passes(Passes(names="capitalized"), sentence, graph)
    out2, _ = run_passes(Passes(copy_words="nearest"), sentence, reversed_order)
    assert format_graph(out2, "oneline") != format_graph(out, "oneline")


def test_a_leaf_dropped_by_one_pass_is_added_back_by_no_other():
    """`surplus_words` drops the second `anh`; `missing_words` adds only words the graph
    lacks, so the first `anh` keeps it from coming back."""
    from visempar.amr.io import Example
    from visempar.data.lexicon import Lexicon

    lexicon = Lexicon.fit([Example("anh đi", parse_graph("(đ / đi :agent (a / anh))"))] * 6)
    graph = parse_graph("(đ / đi :agent (a / anh) :mod (a2 / anh))")
    out, changes = run_passes(Passes(surplus_words="drop", missing_words="add"), "anh đi", graph, lexicon)
    assert changes == {"surplus_words": 1}
    assert format_graph(out, "oneline") == "(đ / đi :agent (a / anh))"


def test_nfd_zero_width_and_segmented_input_read_as_the_plain_sentence():
    plain = "anh Bùi không hiểu chủ trương"
    nfd = unicodedata.normalize("NFD", plain)
    noisy = "anh\u200b Bùi_không  hiểu\u00ad chủ\ufefftrương".replace("chủ\ufefftrương", "chủ \ufefftrương")
    assert nfd != plain
    assert Words.of(nfd) == Words.of(noisy) == Words.of(plain)
    graph = parse_graph("(h / hiểu :agent (a / anh) :mod (b / bùi) :theme (c / chủ trương))")
    results = {format_graph(run_passes(Passes(**ALL_ON), s, graph)[0], "oneline") for s in (plain, nfd, noisy)}
    assert len(results) == 1 and ":polarity -" in results.pop()


def test_every_caller_gives_the_passes_the_sentence_as_written(trained_run, monkeypatch, tmp_path):
    """predict (with --normalize-input lower too), dev scoring and the Python API hand the
    passes the input itself; the passes read its one normal form, case kept."""
    from visempar import api
    from visempar.amr.io import Example
    from visempar.infer import generate as generate_module
    from visempar.infer import graphs, predict
    from visempar.infer.generate import Generated
    from visempar.infer.load import load_run

    seen = []
    real = graphs.run_passes

    def spy(passes, sentence, graph, fitted=None):
        seen.append(Words.of(sentence))
        return real(passes, sentence, graph, fitted)

    monkeypatch.setattr(graphs, "run_passes", spy)
    fake = lambda model, tokenizer, builder, sentences, **k: [Generated("(h / hiểu)", "eos", 3)] * len(sentences)  # noqa: E731
    monkeypatch.setattr(predict, "generate", fake)
    monkeypatch.setattr(generate_module, "generate", fake)
    written = unicodedata.normalize("NFD", "Anh Bùi_không hiểu\u200b")
    want = Words.of("Anh Bùi không hiểu")
    loaded = load_run(trained_run)
    predict.predict(loaded, [written])
    predict.predict(loaded, [written], normalization="lower")
    generate_module.dev_smatch(loaded.model, loaded.tokenizer, loaded.builder,
                               [Example(written, parse_graph("(h / hiểu)"))], budget=8, batch_size=1)
    api.Parser(loaded).parse([written])
    assert seen == [want] * 4


def test_the_examples_in_the_docstrings_hold():
    import doctest

    import visempar.data.words
    import visempar.passes.copy_words
    import visempar.passes.names
    import visempar.passes.registry

    for module in (visempar.data.words, visempar.passes.copy_words, visempar.passes.names, visempar.passes.registry):
        failed, tried = doctest.testmod(module)
        assert tried and not failed, module.__name__


def _submission(tmp_path):
    from tests.conftest import write

    return write(tmp_path, "sys.txt", "#::snt anh Bùi không hiểu chủ trương\n(h / hiểu :agent (a / anh) "
                 ":theme (c / chủ trươg))\n\n#::snt trời mưa\n(m / mưa :agent (t / trời))\n")


def test_repair_runs_the_chosen_passes_on_any_submission(tmp_path):
    import json

    from click.testing import CliRunner

    from visempar.cli import main

    src, out, report = _submission(tmp_path), tmp_path / "out.txt", tmp_path / "r.json"
    res = CliRunner().invoke(main, ["repair", str(src), str(out), "--passes", "negation,names, copy_words",
                                    "--json", str(report)])
    assert res.exit_code == 0, res.output
    text = " ".join(out.read_text(encoding="utf-8").split())
    assert "(c / chủ trương)" in text and ":polarity -" in text and "(n / name :op1(b / Bùi))" in text
    assert "pass names: 1 changes in 1 graphs" in res.output
    record = json.loads(report.read_text())
    assert record["passes"] == {"copy_words": {"graphs": 1, "changes": 1}, "names": {"graphs": 1, "changes": 1},
                                "negation": {"graphs": 1, "changes": 1}}
    assert [b["passes"] for b in record["blocks"]] == [{"copy_words": 1, "names": 1, "negation": 1}, {}]


@pytest.mark.parametrize("args, message", [
    (["--passes", "nams"], "Error: --passes nams: 'nams' is not a pass after decoding (did you mean 'names'?); "
                           "the passes are copy_words, surplus_words, missing_words, names, negation"),
    (["--passes", "missing_words"], "Error: --passes missing_words: reads what a run fitted on its training graphs "
                                    "(RUN/lexicon.json); give --run RUN, or leave it out"),
    (["--run", "somewhere"], "Error: --run gives the passes a run's fitted data: it goes with --passes"),
    (["--passes", ","], "Error: --passes ',': name at least one pass"),
    (["--passes", ""], "Error: --passes '': name at least one pass"),
    (["--passes", "missing_words", "--run", "."], "Error: --run .: not a run directory (no config.yaml)"),
])
def test_repair_refuses_passes_it_cannot_run_in_one_line(tmp_path, args, message):
    from click.testing import CliRunner

    from visempar.cli import main

    out = tmp_path / "out.txt"
    res = CliRunner().invoke(main, ["repair", str(_submission(tmp_path)), str(out), *args])
    assert res.exit_code == 1 and res.output.strip().splitlines() == [message]
    assert not out.exists()


def test_passes_that_read_a_run_take_its_lexicon_and_a_damaged_one_is_one_line(tmp_path, trained_run):
    from click.testing import CliRunner

    from visempar.cli import main

    src = _submission(tmp_path)
    res = CliRunner().invoke(main, ["repair", str(src), str(tmp_path / "a.txt"), "--passes", "missing_words",
                                    "--run", str(trained_run)])
    assert res.exit_code == 0, res.output
    broken = tmp_path / "run"
    broken.mkdir()
    (broken / "config.yaml").write_text((trained_run / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (broken / "lexicon.json").write_text("{not json", encoding="utf-8")
    res = CliRunner().invoke(main, ["ensemble", str(src), str(src), "--output", str(tmp_path / "b.txt"),
                                    "--passes", "missing_words", "--run", str(broken)])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1].startswith(
        f"Error: {broken / 'lexicon.json'}: not a lexicon visempar wrote (JSONDecodeError")


def test_ensemble_runs_the_passes_on_its_result(tmp_path):
    from click.testing import CliRunner

    from visempar.cli import main

    src = _submission(tmp_path)
    res = CliRunner().invoke(main, ["ensemble", str(src), str(src), "--output", str(tmp_path / "e.txt"),
                                    "--passes", "negation"])
    assert res.exit_code == 0, res.output
    assert "pass negation: 1 changes in 1 graphs" in res.output
    assert ":polarity -" in (tmp_path / "e.txt").read_text(encoding="utf-8")


def test_a_pass_result_that_leaves_an_edge_to_a_node_without_concept_is_refused():
    from visempar.amr.graph import rebuilt

    graph = parse_graph("(h / hộ :prep (u / ủ) :mod (n / nghèo))")
    assert rebuilt(graph, [t for t in graph.triples if t != ("u", ":instance", "ủ")]) is None
    assert rebuilt(graph, [t for t in graph.triples if t[2] != "n" and t[0] != "n"]) is not None
