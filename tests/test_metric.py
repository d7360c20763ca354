"""One scorer everywhere: the `evaluate` metric, `visempar evaluate` on files and on a run,
and dev Smatch give the same figures on the same texts, malformed ones included."""

import json
import os
from pathlib import Path

import evaluate
import pytest
from click.testing import CliRunner

import visempar
from visempar.amr import format_graph
from visempar.amr.io import iter_blocks, read_corpus, read_text
from visempar.cli import main
from visempar.scoring.files import score_files, score_texts

METRIC = Path(visempar.__file__).parent / "scoring" / "metric" / "vlsp_smatch.py"

# Texts a model really writes: readable by the reference but not by visempar's strict
# reader (unclosed, a role glued to a concept, an unterminated quote), and unreadable ones.
MALFORMED = {
    1: "(broken / graph :ARG0",
    2: "(n / nhớ:agent(t / tôi)",
    3: '(x / xin :wiki "Hà',
    4: "xin lỗi , tôi không biết",
    5: ")))",
}


@pytest.fixture(scope="module")
def metric():
    return evaluate.load(str(METRIC))


def files(tmp_path, sentences, texts, gold_texts):
    pred, gold = tmp_path / "pred.txt", tmp_path / "gold.txt"
    pred.write_text("\n\n".join(f"#::snt {s}\n{t}" for s, t in zip(sentences, texts)) + "\n", encoding="utf-8")
    gold.write_text("\n\n".join(f"#::snt {s}\n{t}" for s, t in zip(sentences, gold_texts)) + "\n", encoding="utf-8")
    return pred, gold


def every_path(metric, tmp_path, sentences, texts, gold_texts):
    pred, gold = files(tmp_path, sentences, texts, gold_texts)
    m = metric.compute(predictions=texts, references=gold_texts, fine=True)
    report, extra = score_files(pred, gold, fine=True)
    res = CliRunner().invoke(main, ["evaluate", "--metric", "fine", "--predictions", str(pred),
                                    "--gold", str(gold), "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    cli = json.loads((tmp_path / "r.json").read_text())
    figures = {(x["precision"], x["recall"], x["f1"], x["invalid"]) for x in (m, report.to_dict(), cli)}
    assert len(figures) == 1, figures
    assert m["read_leniently"] == len(extra["read_leniently"]) == len(cli["read_leniently"])
    assert m["fine"] == report.fine == cli["fine"]
    return m


def test_metric_scores_what_the_reference_reads(metric, tmp_path, sample_corpora):
    golds = [e for e in sample_corpora["test"]]
    texts = [format_graph(golds[(i + 1) % len(golds)].graph) if i % 3 else format_graph(e.graph)
             for i, e in enumerate(golds)]
    for i, text in MALFORMED.items():
        texts[i] = text
    m = every_path(metric, tmp_path, [e.sentence for e in golds], texts, [format_graph(e.graph) for e in golds])
    assert m["read_leniently"] == 3 and m["invalid"] == 2


def test_one_scorer_on_real_graphs(metric, tmp_path, vlsp_dir):
    gold_blocks = list(iter_blocks(read_text(vlsp_dir / "train_amr_2.txt")))[:60]
    pred_blocks = list(iter_blocks(read_text(vlsp_dir / "train_amr_1.txt")))[:60]
    texts = [b.graph_text for b in pred_blocks]
    for i, text in MALFORMED.items():
        texts[i * 7] = text
    texts[50] = texts[50][: len(texts[50]) // 2]          # cut off, as at a token limit
    every_path(metric, tmp_path, [b.sentence for b in gold_blocks], texts,
               [b.graph_text for b in gold_blocks])


def test_run_and_dev_smatch_score_their_output_like_the_files(metric, trained_run, tmp_path, monkeypatch,
                                                            sample_corpora):
    """`evaluate --run` and dev Smatch score, through the same function, the graphs a run
    writes; fed the malformed texts as generations, both agree with the files' score."""
    from visempar.infer import generate as gen
    from visempar.infer.generate import Generated, dev_smatch
    from visempar.infer.load import load_run
    from visempar.infer.predict import evaluate_run

    golds = sample_corpora["test"].examples[:8]
    outputs = [MALFORMED.get(i, format_graph(golds[(i + 2) % 8].graph)) for i in range(8)]
    fake = lambda model, tok, builder, sentences, **kw: [Generated(o, "eos", 1) for o in outputs]  # noqa: E731
    monkeypatch.setattr(gen, "generate", fake)
    gold_path = tmp_path / "gold.txt"
    gold_path.write_text("\n\n".join(f"#::snt {e.sentence}\n{e.text}" for e in golds) + "\n", encoding="utf-8")
    loaded = load_run(trained_run)
    monkeypatch.setattr("visempar.infer.predict.generate", fake)
    summary, _ = evaluate_run(loaded, read_corpus(gold_path), tmp_path / "eval")
    written = [b.graph_text for b in iter_blocks(read_text(tmp_path / "eval" / "predictions.txt"))]
    m = metric.compute(predictions=written, references=[e.text for e in golds])
    dev = dev_smatch(loaded.model, loaded.tokenizer, loaded.builder, golds, budget=64, batch_size=8)
    assert summary["f1"] == m["f1"] == dev.f1
    assert summary["invalid"] == m["invalid"] == 0                      # repair made every graph valid


def test_two_processes_score_exactly_as_one(tmp_path, sample_corpora):
    """Pairs scored in two forked workers give the same report, row for row, malformed
    predictions included; a malformed gold graph in the worker's share is the same
    located error as in one process."""
    golds = (sample_corpora["test"].examples + sample_corpora["dev"].examples) * 2
    texts = [format_graph(golds[(i + 3) % len(golds)].graph) for i in range(len(golds))]
    for i, text in MALFORMED.items():
        texts[i * 13] = text
    texts[-1] = texts[-1][: len(texts[-1]) // 2]
    pred, gold = files(tmp_path, [e.sentence for e in golds], texts, [format_graph(e.graph) for e in golds])
    one, extra_one = score_files(pred, gold, fine=True, workers=1)
    two, extra_two = score_files(pred, gold, fine=True, workers=2)
    assert len(golds) >= 64 and one.invalid > 0 and extra_one["read_leniently"]
    assert one.to_dict() == two.to_dict() and extra_one == extra_two
    assert score_texts(texts, [format_graph(e.graph) for e in golds], workers=2)[0].to_dict() == \
        score_texts(texts, [format_graph(e.graph) for e in golds], workers=1)[0].to_dict()
    lines = gold.read_text(encoding="utf-8").split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith("("))
    lines[last] = "(x / x :ARG0"  # in the second half: the worker's share
    gold.write_text("\n".join(lines), encoding="utf-8")
    errors = []
    for workers in (1, 2):
        with pytest.raises(Exception) as caught:
            score_files(pred, gold, workers=workers)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and f"{gold}:{last + 1}" in errors[0]


def test_workers_are_forked_only_where_it_is_safe_and_pays():
    import subprocess
    import sys

    code = ("import os\nfrom visempar.scoring.parallel import default_workers\n"
            "cores = len(os.sched_getaffinity(0))\n"
            "print('BEFORE', default_workers(10), default_workers(100) == min(2, cores))\n"
            "import torch\ntorch.ones(256, 256) @ torch.ones(256, 256)\n"
            "print('AFTER', default_workers(100))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "2"}).stdout
    assert "BEFORE 1 True" in out      # too few pairs to pay for a fork
    assert "AFTER 1" in out            # torch's threads: a fork could deadlock
