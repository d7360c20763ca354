"""Fine-grained scores (Damonte et al. 2017) on hand-built pairs with known counts."""

import json

import pytest
from click.testing import CliRunner

from visempar.amr import format_graph, parse_graph, read_corpus
from visempar.cli import main
from visempar.scoring import fine
from visempar.scoring.smatch import score_pair
from tests.conftest import score_graphs, write

WANT = "(m / muốn :pivot (t / tôi) :topic (h / học :agent t :theme (t1 / tiếng anh)))"


def counts(pred: str | None, gold: str, **kw) -> dict:
    return score_pair(parse_graph(pred) if pred else None, parse_graph(gold), fine=True,
                      **kw).fine


def test_a_graph_against_itself_is_perfect_on_every_component():
    text = ("(c / contrast-01 :ARG1 (n / nói :agent (p / person :name (n1 / name :op1 (b / Bùi))"
            " :wiki (w / Bùi_Xuân)) :polarity -) :ARG2 (v / viết :agent p :result-arg1 (s / sách)"
            " :wiki -))")
    for name, (m, p, g) in counts(text, text).items():
        assert m == p == g > 0, name


def test_role_labels_cost_smatch_but_not_unlabeled():
    swapped = WANT.replace(":agent t", ":theme t").replace(":theme (t1", ":agent (t1")
    c = counts(swapped, WANT)
    assert c["smatch"] == (7, 9, 9)  # 4 instances, TOP, :pivot, :topic
    assert c["unlabeled"] == (9, 9, 9)
    assert c["concepts"] == (4, 4, 4)


def test_senses_cost_smatch_but_not_no_wsd():
    c = counts("(c / contrast-02 :ARG1 (a / ăn-01))", "(c / contrast-01 :ARG1 (a / ăn))")
    assert c["smatch"] == (2, 4, 4) and c["no_wsd"] == (4, 4, 4)
    assert c["concepts"] == (0, 2, 2)


def test_concepts_are_a_multiset_compared_as_the_reference_compares_them():
    gold = "(v / và :op1 (t / tôi) :op2 (t2 / tôi) :op3 (t3 / tiếng anh))"
    c = counts("(v / và :op1 (t / Tôi) :op2 (t3 / tiếng_anh) :op3 (x / tiếnganh))", gold)
    assert c["concepts"] == (3, 4, 4)  # và, tôi once, tiếnganh (the reference drops spaces)


def test_named_entities_negation_and_wiki():
    gold = ('(n / nói :agent (p / person :name (n1 / name :op1 (b / Bùi)) :wiki (w / Bùi_Xuân))'
            ' :theme (c / city :name (n2 / name :op1 (h / Huế)) :wiki -) :polarity -)')
    pred = ('(n / nói :agent (p / person :name (n1 / name :op1 (b / Lê)) :wiki "Bùi_Xuân")'
            ' :theme (c / country :name (n2 / name :op1 (h / Huế)) :polarity -))')
    c = counts(pred, gold)
    assert c["named_entities"] == (1, 2, 2)  # person matches, country is not city
    assert c["negation"] == (0, 1, 1)  # negated node differs: country vs nói
    assert c["wikification"] == (1, 1, 2)  # node and quoted attribute read alike; `-` missed


def test_reentrancies_follow_inverse_roles_but_not_mod():
    assert [e.target for e in fine.reentrancy_edges(parse_graph(WANT))] == ["t", "t"]
    inverse = parse_graph("(n / nhìn :agent (c / con mèo :agent-of (n2 / ngủ)))")
    assert {(e.source, e.target) for e in fine.reentrancy_edges(inverse)} == {("n", "c"),
                                                                              ("n2", "c")}
    assert fine.reentrancy_edges(parse_graph("(n / nhìn :theme (c / nhà :mod (t / to)))")) == []
    duplicated = parse_graph("(n / nhìn :theme (c / nhà) :theme c)")
    assert fine.reentrancy_edges(duplicated) == []


def test_a_prediction_without_the_reentrancy_loses_it():
    no_reentrancy = "(m / muốn :pivot (t / tôi) :topic (h / học :agent (t2 / tôi) :theme (t1 / tiếng anh)))"
    c = counts(no_reentrancy, WANT)
    assert c["reentrancies"] == (0, 0, 5)  # gold: muốn, tôi, học + :pivot and :agent into tôi
    assert c["concepts"] == (4, 5, 4)


def test_srl_counts_participant_roles_only():
    gold = ("(v / viết :agent (c / chúng ta) :result-arg1 (s / sách :mod (d / dày))"
            " :time (h / hôm nay) :ARG1-of (c2 / cause-01))")
    edges = {e.role for e in fine.srl_edges(parse_graph(gold))}
    assert edges == {":agent", ":result-arg1", ":ARG1"}
    pred = "(v / viết :agent (c / chúng ta) :theme (s / sách) :time (h / hôm nay))"
    c = counts(pred, gold)
    assert c["srl"] == (4, 5, 7)  # viết, chúng ta, sách, :agent; :theme is not :result-arg1


def test_an_invalid_prediction_predicts_nothing_and_keeps_every_gold_count():
    c = counts(None, WANT, problem="garbage")
    assert all(m == p == 0 for m, p, _ in c.values())
    assert c["smatch"][2] == 9 and c["concepts"][2] == 4 and c["reentrancies"][2] == 5


def test_fine_leaves_the_smatch_figures_unchanged(sample_corpora):
    golds = [e.graph for c in sample_corpora.values() for e in c]
    preds = [golds[(i * 5 + 2) % len(golds)] if i % 3 else golds[i] for i in range(len(golds))]
    preds[3] = None
    plain = score_graphs(preds, golds, bootstrap=50)
    detailed = score_graphs(preds, golds, bootstrap=50, fine=True)
    assert detailed.fine["smatch"]["matched"] == plain.matched
    assert (detailed.precision, detailed.recall, detailed.f1) == (plain.precision, plain.recall,
                                                                  plain.f1)
    assert detailed.fine["smatch"]["f1"] == plain.f1
    assert detailed.fine == score_graphs(preds, golds, bootstrap=0, fine=True).fine
    for name, row in detailed.fine.items():
        assert row["matched"] <= min(row["predicted"], row["gold"]), name
    exact = score_graphs(preds, golds, bootstrap=0, fine=True, exact=True)
    for name in ("smatch", "unlabeled", "no_wsd", "reentrancies", "srl"):
        assert exact.fine[name]["matched"] >= detailed.fine[name]["matched"], name


def test_real_graphs_score_one_against_themselves(vlsp_dir):
    """Repeated triples in the real files push the reference's Smatch above 1; every
    other component counts distinct triples and stays exactly at 1."""
    graphs = [e.graph for e in read_corpus(vlsp_dir / "train_amr_2.txt").examples]
    report = score_graphs(graphs, graphs, bootstrap=0, fine=True)
    for name, row in report.fine.items():
        if name != "smatch":
            assert row["matched"] == row["predicted"] == row["gold"], name
    assert report.fine["named_entities"]["gold"] > 50 and report.fine["wikification"]["gold"] > 50


def test_cli_metric_fine_prints_the_table_and_writes_json(tmp_path):
    gold = write(tmp_path, "gold.txt", f"#::snt tôi muốn học tiếng anh\n{WANT}\n\n"
                 "#::snt không\n(k / không :polarity -)\n")
    pred = write(tmp_path, "pred.txt", "#::snt tôi muốn học tiếng anh\n"
                 f"{format_graph(parse_graph(WANT))}\n\n#::snt không\n(k2 / không :polarity -)\n")
    res = CliRunner().invoke(main, ["evaluate", "--metric", "fine", "--predictions", str(pred),
                                    "--gold", str(gold), "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "Re-entrancies" in res.output and "Named entities" in res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["metric"] == "fine" and list(report["fine"]) == list(fine.COMPONENTS)
    assert report["fine"]["negation"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                          "matched": 1, "predicted": 1, "gold": 1}
    assert report["per_sentence"][0]["fine"]["reentrancies"] == [5, 5, 5]
    plain = CliRunner().invoke(main, ["evaluate", "--predictions", str(pred), "--gold", str(gold)])
    assert "Re-entrancies" not in plain.output and plain.output.splitlines()[0] in res.output


@pytest.mark.parametrize("role, srl", [(":ARG0", True), (":beneficiary-arg2", True),
                                       (":pivot", True), (":mod", False), (":compound", False)])
def test_srl_role_set(role, srl):
    graph = parse_graph(f"(a / ăn {role} (b / bánh))")
    assert bool(fine.srl_edges(graph)) is srl
