"""`visempar ensemble` (MBR selection, Graphene-style merge) and `visempar compare`."""

import json

import pytest
from click.testing import CliRunner

from visempar.amr import canonical_triples, read_corpus
from tests.conftest import write
from visempar.cli import main

SENTENCES = ["tôi muốn đi .", "trời mưa .", "mẹ nấu cơm ."]


def submission(path, graphs, sentences=SENTENCES):
    path.write_text("\n\n".join(f"#::snt {s}\n{g}" for s, g in zip(sentences, graphs)) + "\n", encoding="utf-8")
    return path


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


GOLD = ["(m / muốn :pivot (t / tôi) :theme (đ / đi :agent t))", "(m / mưa :theme (t / trời))",
        "(n / nấu :agent (m / mẹ) :patient (c / cơm))"]


@pytest.mark.parametrize("method", ["select", "merge"])
def test_ensemble_of_identical_files_is_that_file(tmp_path, method):
    a = submission(tmp_path / "a.txt", GOLD)
    b = submission(tmp_path / "b.txt", GOLD)
    invoke("ensemble", a, b, a, "--output", tmp_path / "out.txt", "--method", method)
    got = read_corpus(tmp_path / "out.txt").examples
    want = read_corpus(a).examples
    assert [e.sentence for e in got] == SENTENCES
    assert [canonical_triples(g.graph) for g in got] == [canonical_triples(w.graph) for w in want]


def test_merge_keeps_what_two_of_three_hold_and_drops_what_one_holds(tmp_path):
    a = submission(tmp_path / "a.txt", ["(w / muốn :pivot (b / tôi) :theme (g / đi))"] + GOLD[1:])
    b = submission(tmp_path / "b.txt", ["(w / muốn :pivot (b / tôi) :theme (g / đi) :polarity -)"] + GOLD[1:])
    c = submission(tmp_path / "c.txt", ["(w / muốn :pivot (b / tôi) :polarity - :mod (x / rất))"] + GOLD[1:])
    invoke("ensemble", a, b, c, "--output", tmp_path / "out.txt", "--method", "merge", "--json", tmp_path / "r.json")
    graph = read_corpus(tmp_path / "out.txt").examples[0].graph
    roles = {r for _, r, _ in graph.edges()} | {r for _, r, _ in graph.attributes()}
    assert roles == {":pivot", ":theme", ":polarity"}            # :mod rất had one vote
    assert sorted(t.target for t in graph.instances()) == ["muốn", "tôi", "đi"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert sum(report["wins"].values()) == 3


def test_select_takes_the_consensus_and_scores_with_gold(tmp_path):
    gold = submission(tmp_path / "gold.txt", GOLD)
    good = submission(tmp_path / "good.txt", GOLD)
    close = submission(tmp_path / "close.txt", ["(m / muốn :pivot (t / tôi) :theme (đ / đi))"] + GOLD[1:])
    wrong = submission(tmp_path / "wrong.txt", ["(x / xe)", "(y / ăn)", "(z / ngủ)"])
    also_good = submission(tmp_path / "also_good.txt", GOLD)
    result = invoke("ensemble", wrong, close, good, also_good, "--output", tmp_path / "out.txt", "--gold", gold,
                    "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["wins"][str(wrong)] == 0
    assert report["scores"][str(tmp_path / "out.txt")]["f1"] == report["scores"][str(good)]["f1"] == 1.0
    assert "Smatch of" in result.output


def test_ensemble_matches_sentences_in_normal_form(tmp_path):
    a = submission(tmp_path / "a.txt", GOLD)
    shuffled = [SENTENCES[2] + " .", SENTENCES[0].upper(), SENTENCES[1]]
    b = submission(tmp_path / "b.txt", [GOLD[2], GOLD[0], GOLD[1]], shuffled)
    invoke("ensemble", a, b, "--output", tmp_path / "out.txt")
    got = read_corpus(tmp_path / "out.txt").examples
    assert [canonical_triples(e.graph) for e in got] == [canonical_triples(e.graph) for e in read_corpus(a).examples]
    missing = submission(tmp_path / "m.txt", GOLD, ["x", "y", "z"])
    bad = CliRunner().invoke(main, ["ensemble", str(a), str(missing), "--output", str(tmp_path / "o2.txt")])
    assert bad.exit_code == 1 and "no block for the sentence" in bad.output


def test_compare_against_itself_and_the_direction_of_p(tmp_path):
    gold = submission(tmp_path / "gold.txt", GOLD)
    good = submission(tmp_path / "good.txt", GOLD)
    worse = submission(tmp_path / "worse.txt", ["(m / muốn :pivot (t / tôi))", "(m / mưa)", "(n / nấu :agent (m / mẹ))"])
    invoke("compare", good, good, "--gold", gold, "--json", tmp_path / "same.json")
    same = json.loads((tmp_path / "same.json").read_text())
    assert same["delta"] == 0 and same["p"] == 1.0
    invoke("compare", good, worse, "--gold", gold, "--json", tmp_path / "ab.json")
    invoke("compare", worse, good, "--gold", gold, "--json", tmp_path / "ba.json")
    ab, ba = (json.loads((tmp_path / f).read_text()) for f in ("ab.json", "ba.json"))
    assert ab["delta"] > 0 and ab["p"] == 0.0 and ab["ci"][0] > 0
    assert ba["delta"] == -ab["delta"] and ba["p"] == 1.0
    for name, path in (("f1_a", good), ("f1_b", worse)):            # delta = difference of evaluate's F1
        invoke("evaluate", "--predictions", path, "--gold", gold, "--json", tmp_path / "e.json")
        assert json.loads((tmp_path / "e.json").read_text())["f1"] == ab[name]
    assert ab["delta"] == round(ab["f1_a"] - ab["f1_b"], 4)


# one strong system (the gold) and two weaker ones that agree with each other
WEAK = ["(m / muốn :pivot (t / tôi))", "(m / mưa)", "(n / nấu :agent (m / mẹ))"]


def test_unweighted_votes_follow_the_agreeing_weak_systems_and_weights_do_not(tmp_path):
    gold = submission(tmp_path / "gold.txt", GOLD)
    strong = submission(tmp_path / "strong.txt", GOLD)
    weak1, weak2 = submission(tmp_path / "w1.txt", WEAK), submission(tmp_path / "w2.txt", WEAK)
    invoke("ensemble", strong, weak1, weak2, "--output", tmp_path / "eq.txt", "--weights", "1,1,1",
           "--gold", gold, "--json", tmp_path / "eq.json")
    equal = json.loads((tmp_path / "eq.json").read_text())
    assert equal["wins"][str(weak1)] == 3 and equal["warning"].startswith("the select ensemble (F1 ")
    res = invoke("ensemble", strong, weak1, weak2, "--output", tmp_path / "w.txt", "--weights", "3,1,1",
                 "--gold", gold, "--json", tmp_path / "w.json")
    weighted = json.loads((tmp_path / "w.json").read_text())
    assert weighted["plan"]["weights"] == [0.6, 0.2, 0.2] and weighted["plan"]["pivot"] == 0
    assert weighted["wins"][str(strong)] == 3 and "warning" not in weighted
    assert weighted["scores"][str(tmp_path / "w.txt")]["f1"] == 1.0
    assert "weights (given): 0.600, 0.200, 0.200" in res.output


def test_weights_and_thresholds_tuned_on_dev_never_fall_below_the_best_dev_input(tmp_path):
    gold = submission(tmp_path / "gold.txt", GOLD)
    dev = [submission(tmp_path / f"dev{i}.txt", g) for i, g in enumerate((GOLD, WEAK, WEAK))]
    test = [submission(tmp_path / f"test{i}.txt", g) for i, g in enumerate((GOLD, WEAK, WEAK))]
    for method in ("select", "merge"):
        out = tmp_path / f"{method}.txt"
        invoke("ensemble", *test, "--output", out, "--method", method, "--json", tmp_path / "r.json",
               *[a for d in dev for a in ("--dev", d)], "--dev-gold", gold, "--gold", gold)
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["plan"]["source"] == "dev" and report["plan"]["pivot"] == 0
        assert report["dev_inputs_f1"][0] == 1.0 and report["dev_f1"] >= max(report["dev_inputs_f1"])
        assert len(report["dev_tried"]) == (5 if method == "select" else 18)
        assert report["scores"][str(out)]["f1"] == 1.0 and "warning" not in report


def test_merge_keeps_the_pivots_triples_unless_outvoted_and_reports_each_systems_part(tmp_path):
    pivot = submission(tmp_path / "p.txt", ["(w / muốn :pivot (b / tôi) :theme (g / đi))"] + GOLD[1:])
    other = submission(tmp_path / "o.txt", ["(w / muốn :pivot (b / tôi) :polarity -)"] + GOLD[1:])
    third = submission(tmp_path / "t.txt", ["(w / muốn :pivot (b / tôi) :polarity -)"] + GOLD[1:])
    invoke("ensemble", pivot, other, third, "--output", tmp_path / "out.txt", "--method", "merge",
           "--weights", "2,1,1", "--json", tmp_path / "r.json")
    graph = read_corpus(tmp_path / "out.txt").examples[0].graph
    roles = {r for _, r, _ in graph.edges()} | {r for _, r, _ in graph.attributes()}
    assert roles == {":pivot", ":theme"}  # :theme is half the weight (kept); :polarity only half (not added)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["contribution"]["dropped"] == 0 and report["contribution"]["added_by"][str(other)] == 0
    invoke("ensemble", pivot, other, third, "--output", tmp_path / "out2.txt", "--method", "merge",
           "--weights", "1,1,1", "--json", tmp_path / "r2.json")
    graph = read_corpus(tmp_path / "out2.txt").examples[0].graph
    roles = {r for _, r, _ in graph.edges()} | {r for _, r, _ in graph.attributes()}
    assert roles == {":pivot", ":theme", ":polarity"}  # equal weights: two of three add, the pivot's stay
    part = json.loads((tmp_path / "r2.json").read_text())["contribution"]
    assert part["dropped"] == 0 and part["added_by"] == {str(pivot): 0, str(other): 1, str(third): 1}
    from visempar.combine.ensemble import Plan, merge, read_candidates

    sentence = read_candidates([pivot, other, third])[0]
    outvoted = merge(sentence, Plan((1 / 3, 1 / 3, 1 / 3), keep=0.5)).graph  # as tuned on dev it may be
    assert {r for _, r, _ in outvoted.triples if r != ":instance"} == {":pivot", ":polarity"}
    assert sentence.contribution["dropped"] == 2  # đi and :theme


@pytest.mark.parametrize("args, message", [
    (["--weights", "1,2"], "--weights: 2 weights for 3 prediction files"),
    (["--weights", "1,-1,1"], "--weights: weights must be finite and not negative"),
    (["--weights", "0,0,0"], "--weights: at least one weight must be positive"),
    (["--weights", "1,nan,1"], "--weights: weights must be finite and not negative"),
    (["--dev", "{a}"], "--dev and --dev-gold go together"),
    (["--dev", "{a}", "--dev-gold", "{a}"], "--dev: 1 dev files for 3 prediction files"),
])
def test_unusable_weights_and_dev_files_are_one_error_line(tmp_path, args, message):
    a = submission(tmp_path / "a.txt", GOLD)
    res = CliRunner().invoke(main, ["ensemble", str(a), str(a), str(a), "--output", str(tmp_path / "o.txt"),
                                    *[x.format(a=a) for x in args]])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1].startswith(f"Error: {message}")
    assert not (tmp_path / "o.txt").exists()


def test_tuning_keeps_the_pivot_alone_unless_another_setting_gains_enough(tmp_path, monkeypatch):
    from visempar.combine import ensemble
    from visempar.combine.ensemble import read_candidates, tune

    gold = [e.graph for e in read_corpus(submission(tmp_path / "gold.txt", GOLD)).examples]
    near = ["(m / muốn :pivot (t / tôi) :theme (đ / đi))"] + GOLD[1:]  # lacks an edge the others hold
    files = [submission(tmp_path / f"s{i}.txt", g) for i, g in enumerate((near, GOLD, GOLD))]
    dev = read_candidates(files)
    weights = (0.4, 0.3, 0.3)
    monkeypatch.setattr(ensemble, "MIN_GAIN", 0.0)
    plan, report = tune("merge", dev, gold, weights)
    assert plan.add != float("inf") and report["dev_f1"] == 1.0  # adding the others' triples pays
    monkeypatch.setattr(ensemble, "MIN_GAIN", 2.0)  # no gain is enough: the pivot alone
    plan, report = tune("merge", read_candidates(files), gold, weights)
    assert (plan.keep, plan.add) == (0.0, float("inf")) and report["dev_f1"] < 1.0


@pytest.mark.parametrize("method", ["select", "merge"])
def test_concepts_keep_the_spelling_the_systems_wrote(tmp_path, method):
    """Two systems identical to a gold written with `_` in its concepts (as train_amr_1 is):
    the ensemble scores 1.0, not less for respelling `bi_kịch` as `bi kịch`."""
    gold = write(tmp_path, "gold.txt", "#::snt đó là bi kịch\n(b / bi_kịch :domain (đ / đó))\n\n"
                                       "#::snt ông chủ tịch nói\n(n / nói :agent (c / chủ_tịch :mod (ô / ông)))\n")
    res = CliRunner().invoke(main, ["ensemble", str(gold), str(gold), "--output", str(tmp_path / "e.txt"),
                                    "--method", method, "--gold", str(gold)])
    assert res.exit_code == 0, res.output
    assert f"Smatch of {tmp_path / 'e.txt'}: F1 1.0000" in res.output
    assert "bi_kịch" in (tmp_path / "e.txt").read_text(encoding="utf-8")
