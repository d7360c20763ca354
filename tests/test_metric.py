"""The `evaluate` metric loads offline and gives the figures of `visempar evaluate`."""

from pathlib import Path

import evaluate

import visempar
from visempar.amr import format_graph
from visempar.eval.smatch import score_corpus

METRIC = Path(visempar.__file__).parent / "eval" / "metric" / "vlsp_smatch.py"


def test_metric_loads_offline_and_agrees_with_the_scorer(sample_corpora):
    golds = [e.graph for e in sample_corpora["test"]]
    preds = [golds[(i + 1) % len(golds)] if i % 3 else golds[i] for i in range(len(golds))]
    metric = evaluate.load(str(METRIC))
    texts = [format_graph(g) for g in preds]
    texts[4] = "(broken / graph :ARG0"
    result = metric.compute(predictions=texts, references=[format_graph(g) for g in golds],
                            fine=True)
    expected = score_corpus([None if i == 4 else p for i, p in enumerate(preds)], golds,
                            fine=True)
    assert (result["precision"], result["recall"], result["f1"], result["invalid"]) == (
        expected.precision, expected.recall, expected.f1, 1)
    assert result["fine"] == expected.fine
