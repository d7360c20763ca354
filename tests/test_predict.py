"""Parsing: submission format, mtup fallbacks, repair counts, determinism, export."""

import json

import pytest
import torch
from click.testing import CliRunner

from visempar.amr import read_corpus
from visempar.cli import main
from visempar.data.prompts import TASK1, TASK2, PromptBuilder, normalize_sentence
from visempar.infer.graphs import path_counts, to_graph_result

MTUP = PromptBuilder("mtup")


def test_mtup_takes_task2_then_task1_then_repair():
    good2 = f"{TASK1}\n(đi :agent (tôi))\n{TASK2}\n(đ / đi :agent (t / tôi))\n"
    assert to_graph_result(MTUP, good2).path == "task2"
    broken2 = f"{TASK1}\n(muốn :pivot (tôi *1) :topic (đi :agent *1))\n{TASK2}\n(m / muốn :pivot (t / tôi) :topic (đ / đi"
    fell_back = to_graph_result(MTUP, broken2)
    assert fell_back.path == "task1"
    assert len(fell_back.graph.reentrancies()) == 1          # the marker kept the co-reference
    both_bad = f"{TASK1}\n(đi :agent\n{TASK2}\n(đ / đi :agent (t / tôi)"
    repaired = to_graph_result(MTUP, both_bad)
    assert repaired.path == "repaired" and "truncated" in repaired.repairs
    empty = to_graph_result(MTUP, "xin lỗi")
    assert empty.path == "empty"
    counts = path_counts([fell_back, repaired, empty])
    assert counts["paths"] == {"task1": 1, "repaired": 1, "empty": 1} and counts["needed_repair"] == 2


def test_duplicate_variables_never_pass_as_valid():
    result = to_graph_result(PromptBuilder("baseline"), "(a / ăn :agent (a / anh))")
    assert result.path == "repaired"
    variables = [t.source for t in result.graph.instances()]
    assert len(variables) == len(set(variables))


def test_input_normalization_of_the_private_test_spelling():
    raw = "Cả phòng nhao_nhao : - Quan về !"
    assert normalize_sentence(raw, "spaces") == "Cả phòng nhao nhao : - Quan về !"
    assert normalize_sentence(raw, "lower") == "cả phòng nhao nhao : - quan về !"
    assert normalize_sentence(raw, "none") == raw


def test_predict_writes_one_block_per_line_in_order(trained_run, tmp_path):
    sentences = ["tôi muốn đi học .", "", "Mẹ tôi nấu_cơm .", "trời mưa ."]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    out1, out2 = tmp_path / "a.txt", tmp_path / "b.txt"
    for out in (out1, out2):
        res = CliRunner().invoke(main, ["predict", "--run", str(trained_run), "--input", str(src),
                                        "--output", str(out), "--json", str(out) + ".json"])
        assert res.exit_code == 0, res.output
    assert out1.read_text() == out2.read_text()                    # greedy is deterministic
    corpus = read_corpus(out1)
    assert [e.sentence for e in corpus.examples] == ["tôi muốn đi học .", "", "Mẹ tôi nấu_cơm .", "trời mưa ."]
    report = json.loads((tmp_path / "a.txt.json").read_text())
    assert report["sentences"] == 4 and report["paths"]["blank"] == 1  # the blank line: no repair counted
    assert report["needed_repair"] == sum(report["paths"].get(k, 0) for k in ("repaired", "empty"))


def test_evaluate_run_scores_every_gold_graph(trained_run, tmp_path):
    res = CliRunner().invoke(main, ["evaluate", "--metric", "fine", "--run", str(trained_run),
                                    "--out", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["generation"]["sentences"] == 25 and summary["invalid"] == 0
    assert 0.0 <= summary["f1"] <= 1.0 and summary["fine"]["smatch"]["f1"] == summary["f1"]
    assert summary["fine"]["concepts"]["gold"] == 141 and "SRL" in res.output
    assert len(read_corpus(tmp_path / "ev" / "predictions.txt").examples) == 25
    rows = (tmp_path / "ev" / "per_sentence.csv").read_text().splitlines()
    assert len(rows) == 26 and rows[0].startswith("index,line,f1")


def test_export_merges_the_adapter(trained_run, tmp_path):
    from transformers import AutoModelForCausalLM

    from visempar.infer.load import load_run

    res = CliRunner().invoke(main, ["export", "--run", str(trained_run), "--merge", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    loaded = load_run(trained_run)
    ids = torch.tensor([[1, 50, 60, 70]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, loaded.model(ids).logits, rtol=1e-4, atol=1e-4)


def test_missing_run_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(main, ["evaluate", "--run", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "not a run directory" in res.output


def _sentences(sample_corpora, copies: int) -> list[str]:
    base = [e.sentence for s in ("test", "dev") for e in sample_corpora[s].examples]
    return [f"{s} ({i})" for i in range(copies) for s in base]


def test_interrupted_predict_resumes_into_the_same_file(trained_run, tmp_path, sample_corpora):
    import pytest

    from visempar.infer.load import load_run
    from visempar.infer.predict import predict_file

    loaded = load_run(trained_run)
    sentences = _sentences(sample_corpora, 1) + ["", "tôi đi ."]
    straight = tmp_path / "straight.txt"
    predict_file(loaded, sentences, straight, batch_size=2)
    calls = []

    def stop_in_second_chunk(n):
        calls.append(n)
        if sum(calls) == 10:                           # chunk = 4 batches of 2: 8 sentences
            raise KeyboardInterrupt

    cut = tmp_path / "cut.txt"
    with pytest.raises(KeyboardInterrupt):
        predict_file(loaded, sentences, cut, batch_size=2, progress=stop_in_second_chunk)
    assert not cut.exists() and (tmp_path / "cut.txt.partial").exists()
    kept = json.loads((tmp_path / "cut.txt.partial.json").read_text())["blocks"]
    assert kept == 8                                   # the first chunk of 4 x 2 was finished
    _, resumed = predict_file(loaded, sentences, cut, batch_size=2, resume=True)
    assert resumed == 8 and cut.read_bytes() == straight.read_bytes()
    assert not (tmp_path / "cut.txt.partial").exists() and not (tmp_path / "cut.txt.partial.json").exists()
    other = tmp_path / "other.txt"
    predict_file(loaded, sentences[:3], other, batch_size=2)
    (tmp_path / "other.txt.partial").write_text("x")
    (tmp_path / "other.txt.partial.json").write_text(json.dumps({"input": "elsewhere", "blocks": 1, "bytes": 1}))
    from visempar.amr.errors import CorpusError

    with pytest.raises(CorpusError, match="another input"):
        predict_file(loaded, sentences, other, resume=True)


def test_killed_predict_process_resumes_identically(trained_run, tmp_path, sample_corpora):
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in.txt"
    src.write_text("\n".join(_sentences(sample_corpora, 12)) + "\n", encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def command(out, *extra):
        return [sys.executable, "-m", "visempar.cli", "predict", "--run", str(trained_run), "--input", str(src),
                "--output", str(out), "--batch-size", "2", *extra]

    straight = tmp_path / "straight.txt"
    subprocess.run(command(straight), env=env, check=True, capture_output=True, timeout=600)
    out = tmp_path / "killed.txt"
    proc = subprocess.Popen(command(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    index = tmp_path / "killed.txt.partial.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if index.exists() and json.loads(index.read_text() or "{}").get("blocks", 0) >= 40:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the run finished before it could be killed"
    done = subprocess.run(command(out, "--resume"), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "from an earlier run" in done.stdout
    assert out.read_bytes() == straight.read_bytes()


def test_mbr_over_samples_is_deterministic_and_picks_a_candidate(trained_run, tmp_path, sample_corpora):
    from visempar.infer.load import load_run
    from visempar.infer.predict import predict

    loaded = load_run(trained_run)
    sentences = [e.sentence for e in sample_corpora["test"].examples[:6]]
    greedy = predict(loaded, sentences)
    first = predict(loaded, sentences, samples=2)
    again = predict(loaded, sentences, samples=2)
    assert [r.graph.triples for r in first.results] == [r.graph.triples for r in again.results]
    assert first.report()["samples"] == 2
    assert first.report()["tokens_generated"] > greedy.report()["tokens_generated"]
    assert sum(first.report()["stopped_by"].values()) == 3 * len(sentences)
    res = CliRunner().invoke(main, ["evaluate", "--metric", "smatch", "--run", str(trained_run), "--samples", "1",
                                    "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "e.json").read_text())["generation"]["samples"] == 1


def test_resume_refuses_another_run_a_short_partial_and_a_second_writer(trained_run, tmp_path):
    """A `.partial` is resumed only by the run and settings that wrote it and only when
    it holds the bytes its index records; a live writer's lock refuses a second one,
    a dead writer's lock is taken over with a line."""

    import pytest

    from visempar.amr.errors import CorpusError
    from visempar.infer.load import load_run
    from visempar.infer.predict import PartialOutput, predict_file
    from visempar.locks import LockedError

    loaded = load_run(trained_run)
    sentences = ["tôi đi .", "trời mưa ."]
    out = tmp_path / "out.txt"
    digest = PartialOutput(out, sentences).input
    (tmp_path / "out.txt.partial").write_text("#::snt tôi đi .\n(đ / đi)\n", encoding="utf-8")
    index = tmp_path / "out.txt.partial.json"
    index.write_text(json.dumps({"input": digest, "source": "run /elsewhere", "blocks": 1, "bytes": 24}))
    with pytest.raises(CorpusError, match="was written by run /elsewhere"):
        predict_file(loaded, sentences, out, resume=True)
    with pytest.raises(CorpusError, match="another run"):  # an index from before sources were recorded
        index.write_text(json.dumps({"input": digest, "blocks": 1, "bytes": 24}))
        predict_file(loaded, sentences, out, resume=True)

    said = []
    predict_file(loaded, sentences, out, log=said.append)  # no --resume: starts again, no lock left behind
    source = (f"run {trained_run.resolve()} (config {loaded.config.hash()}, samples 0, normalization run, "
              "batch 8, chunk 32)")
    (tmp_path / "out.txt.partial").write_text("#::snt", encoding="utf-8")
    index.write_text(json.dumps({"input": digest, "source": source, "blocks": 1, "bytes": 24}))
    with pytest.raises(CorpusError, match=r"shorter \(6 bytes\) than the 24"):
        predict_file(loaded, sentences, out, resume=True)

    lock = tmp_path / "out.txt.lock"
    from tests.conftest import hold_lock

    with hold_lock(lock) as holder:
        with pytest.raises(LockedError, match=f"being written by process {holder.pid}"):
            predict_file(loaded, sentences, out)
        holder.kill()
    assert lock.read_text() == str(holder.pid) and said == []
    predict_file(loaded, sentences, out, log=said.append)
    assert said == [f"output {out}: taking over the lock {lock} of process {holder.pid}, which no longer runs"]
    assert not lock.exists() and out.read_text(encoding="utf-8").startswith("#::snt tôi đi .")


def test_a_sentence_longer_than_training_saw_is_warned_about_before_parsing(trained_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("trời mưa .\n" + " ".join(["hôm nay trời mưa rất to và gió thổi mạnh"] * 30) + "\n",
                   encoding="utf-8")
    res = CliRunner().invoke(main, ["predict", "--run", str(trained_run), "--input", str(src),
                                    "--output", str(tmp_path / "out.txt")])
    assert res.exit_code == 0, res.output
    warning = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and warning[0].startswith(
        "warning: 1 sentence(s) longer than anything the run was trained on (a prompt of 384 tokens or more): "
        f"{src}:2 (")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").count("#::snt") == 2


def test_the_passes_after_decoding_change_at_inference_and_nothing_else_does(trained_run, tmp_path, monkeypatch):
    """Each of the five passes, switched on by --set, writes its change into the file (the
    generation pinned, so what each pass saw is known), and the report counts them."""
    import json

    from visempar.data.lexicon import Lexicon
    from visempar.infer import predict as predict_module
    from visempar.infer.generate import Generated

    lexicon = Lexicon.from_dict(json.loads((trained_run / "lexicon.json").read_text(encoding="utf-8")))
    word = next(w for w in sorted(lexicon.words) if lexicon.likely(w) and w.isalpha() and w not in
                ("anh", "bùi", "không", "hiểu", "chủ", "trương"))
    sentence = f"anh Bùi không hiểu chủ trương {word} ."
    generation = "(h / hiểu :agent (a / anh) :theme (c / chủ trươg) :mod (a2 / anh))"
    monkeypatch.setattr(predict_module, "generate", lambda *a, **k: [Generated(generation, "graph_end", 9)])
    src = tmp_path / "in.txt"
    src.write_text(sentence + "\n", encoding="utf-8")
    base = ["predict", "--run", str(trained_run), "--input", str(src)]
    res = CliRunner().invoke(main, [*base, "--output", str(tmp_path / "a.txt"), "--json", str(tmp_path / "a.json"),
                                    "--set", "negation=next-word", "--set", "copy_words=nearest",
                                    "--set", "surplus_words=drop", "--set", "missing_words=add",
                                    "--set", "names=capitalized"])
    assert res.exit_code == 0, res.output
    graph = " ".join((tmp_path / "a.txt").read_text(encoding="utf-8").split("\n", 1)[1].split())
    assert "(c / chủ trương)" in graph                                    # copy_words respelled it (VLSP layout)
    assert graph.count("/ anh") == 1                                      # surplus_words dropped the repeat
    assert f"/ {word})" in graph                                          # missing_words added the word
    assert ":mod(p / person :name(n / name :op1(b / Bùi)) :wiki -)" in graph  # names wrote the person
    assert graph.startswith("(h / hiểu") and ":polarity -" in graph       # negation marked hiểu
    report = json.loads((tmp_path / "a.json").read_text())
    assert report["passes"] == {k: {"graphs": 1, "changes": 1} for k in
                                ("copy_words", "surplus_words", "missing_words", "names", "negation")}
    assert report["repair_kinds"] == {} and report["needed_repair"] == 0  # the passes are not repairs
    res = CliRunner().invoke(main, [*base, "--output", str(tmp_path / "b.txt"), "--set", "learning_rate=0.1"])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1] == (
        "Error: --set learning_rate: only the passes after decoding (copy_words, surplus_words, missing_words, "
        "names, negation) can change without retraining")
    assert not (tmp_path / "b.txt").exists()
    res = CliRunner().invoke(main, [*base, "--output", str(tmp_path / "c.txt"), "--set", "names=capitalised"])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1] == (
        "Error: --set names=capitalised: names: 'capitalised' is not one of its values (none, capitalized)")


def test_predict_evaluate_and_the_api_give_the_same_graphs(trained_run, tmp_path):
    """One sentence decodes beside others of its chunk, in bf16 the batch changes the
    numbers a little: so `predict`, `evaluate --run` and `load_parser().parse` decode the
    very same chunks, and give the very same graphs. A resume with another batch size is
    refused: it would join two decodings."""
    from visempar import load_parser
    from visempar.amr import format_graph
    from visempar.data.corpus import sample_path

    gold = read_corpus(sample_path("test"))
    sentences = [e.sentence for e in gold.examples]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["predict", "--run", str(trained_run), "--input", str(src),
                                    "--output", str(tmp_path / "p.txt")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["evaluate", "--run", str(trained_run), "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    predicted = [format_graph(e.graph) for e in read_corpus(tmp_path / "p.txt").examples]
    evaluated = [format_graph(e.graph) for e in read_corpus(tmp_path / "eval" / "predictions.txt").examples]
    parsed = [format_graph(g) for g in load_parser(trained_run).parse(sentences)]
    assert predicted == evaluated == parsed

    (tmp_path / "p.txt").unlink()
    from visempar.infer.load import load_run
    from visempar.infer.predict import PartialOutput, predict_file

    loaded = load_run(trained_run)
    out = tmp_path / "q.txt"
    seen = []

    def stop_in_second_chunk(n):
        seen.append(n)
        if sum(seen) > 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_file(loaded, sentences, out, batch_size=4, chunk=4, progress=stop_in_second_chunk)
    assert PartialOutput(out, sentences).partial.exists()
    res = CliRunner().invoke(main, ["predict", "--run", str(trained_run), "--input", str(src),
                                    "--output", str(out), "--resume", "--batch-size", "8"])
    assert res.exit_code == 1 and "batch 4, chunk 4" in res.output and "batch 8, chunk 32" in res.output
