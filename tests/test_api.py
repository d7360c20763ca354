"""The Python API: `load_parser(run).parse(...)` and `score(...)` against the CLI."""

import json

import penman
import pytest
from click.testing import CliRunner

import visempar
from visempar.amr import read_corpus
from visempar.amr.format import format_graph
from visempar.cli import main
from visempar.data.corpus import sample_path
from visempar.infer.load import RunDirError


@pytest.fixture(scope="module")
def parser(trained_run):
    return visempar.load_parser(trained_run)


def test_parse_gives_the_graphs_predict_writes(parser, trained_run, tmp_path):
    sentences = [e.sentence for e in read_corpus(sample_path("test")).examples[:12]]
    sentences[3] = ""  # a blank line: the placeholder, as in a submission
    src = tmp_path / "in.txt"
    src.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    res = CliRunner().invoke(main, ["predict", "--run", str(trained_run), "--input", str(src),
                                    "--output", str(out)])
    assert res.exit_code == 0, res.output
    written = [format_graph(e.graph) for e in read_corpus(out).examples]

    graphs = parser.parse(sentences)
    assert [format_graph(g) for g in graphs] == written
    assert [g.metadata["snt"] for g in graphs] == [s.strip() for s in sentences]
    assert all(isinstance(g, penman.Graph) for g in graphs)


def test_parse_results_say_how_each_graph_was_obtained(parser):
    results = parser.parse_results(["tôi muốn đi học .", "  "])
    assert [r.sentence for r in results] == ["tôi muốn đi học .", "  "]
    assert results[1].path == "blank" and not results[1].repaired and results[1].generated == ""
    assert results[1].text == "(e / empty)"
    assert results[0].path in ("direct", "repaired", "empty")
    assert results[0].repaired == (results[0].path != "direct" or bool(results[0].repairs))
    assert results[0].text == format_graph(results[0].graph)
    assert parser.parse("tôi muốn đi học .")[0].metadata["snt"] == "tôi muốn đi học ."


def test_progress_is_shown_only_when_asked(parser, capsys):
    parser.parse(["trời mưa ."])
    assert capsys.readouterr().err == ""
    parser.parse(["trời mưa ."], progress=True)
    assert "parsed 1/1 sentences" in capsys.readouterr().err


def test_load_parser_refuses_a_folder_without_a_run(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory"):
        visempar.load_parser(tmp_path)


def test_score_gives_the_figures_of_evaluate(tmp_path):
    gold = read_corpus(sample_path("test"))
    preds = [e.graph for e in read_corpus(sample_path("dev")).examples[:len(gold.examples)]]
    preds[2] = "(x / broken :ARG0"  # read leniently by the reference
    preds[5] = "no graph here"  # unreadable: counts as empty
    blocks = [f"#::snt {e.sentence}\n{p if isinstance(p, str) else format_graph(p)}"
              for e, p in zip(gold.examples, preds)]
    pred_file = tmp_path / "pred.txt"
    pred_file.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["evaluate", "--metric", "smatch", "--predictions", str(pred_file),
                                    "--gold", str(sample_path("test")), "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    cli = json.loads((tmp_path / "r.json").read_text())

    report = visempar.score(preds, [e.graph for e in gold.examples])
    assert (report.precision, report.recall, report.f1) == (cli["precision"], cli["recall"], cli["f1"])
    assert list(report.f1_ci95) == list(cli["f1_ci95"]) and report.invalid == cli["invalid"] == 1
    as_text = visempar.score([p if isinstance(p, str) else format_graph(p) for p in preds],
                             [e.text for e in gold.examples])
    assert as_text.f1 == report.f1


def test_score_refuses_lists_of_different_lengths():
    with pytest.raises(ValueError, match="2 predictions for 1 gold"):
        visempar.score(["(a / a)", "(b / b)"], ["(a / a)"])


@pytest.mark.parametrize("call, error", [
    (lambda p: p.parse(["trời mưa ."], batch_size=-1), ValueError),
    (lambda p: p.parse(["trời mưa ."], batch_size=0), ValueError),
    (lambda p: p.parse(["trời mưa ."], batch_size=10**9), ValueError),
    (lambda p: p.parse(["trời mưa ."], batch_size=2.5), ValueError),
    (lambda p: p.parse([b"bytes"]), TypeError),
    (lambda p: p.parse([None]), TypeError),
])
def test_the_api_refuses_what_the_cli_refuses(parser, call, error):
    with pytest.raises(error):
        call(parser)


def test_load_parser_refuses_a_misspelled_pass_and_prints_nothing(trained_run, capsys):
    from visempar import load_parser
    from visempar.passes import PassError

    with pytest.raises(PassError, match=r"names: 'capitalised' is not one of its values \(none, capitalized\)"):
        load_parser(trained_run, passes={"names": "capitalised"})
    with pytest.raises(TypeError):
        load_parser(123)
    capsys.readouterr()
    parser = load_parser(trained_run, passes={"negation": "next-word"})
    parser.parse(["dân không hiểu ."])
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert parser.config.passes["negation"] == "next-word"


def test_score_refuses_what_is_not_a_graph():
    from visempar import score

    with pytest.raises(TypeError):
        score([3], ["(a / b)"])
    with pytest.raises(ValueError):
        score(["(a / b)"], ["(a / b)"], restarts=-1)
