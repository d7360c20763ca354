"""Corpus-level Smatch of the VLSP 2025 challenge as a Hugging Face `evaluate` metric.

Load it offline with `evaluate.load("<path>/visempar/eval/metric/vlsp_smatch.py")`.
Predictions and references are PENMAN strings in the VLSP dialect; the figures are those
of `visempar evaluate` (invalid predictions count as empty graphs). With `fine=True` the
result also holds the fine-grained components (`visempar evaluate --metric fine`).
"""

import datasets
import evaluate

from visempar.amr import AMRSyntaxError
from visempar.amr import parse_graph
from visempar.eval.smatch import score_corpus


class VlspSmatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="Cai and Knight, 2013. Smatch: an evaluation metric for semantic "
                     "feature structures.",
            inputs_description="predictions: list of PENMAN strings; references: list of "
                               "PENMAN strings; restarts, seed, exact, fine as in visempar.",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, restarts=4, seed=0, exact=False, fine=False):
        preds, problems = [], []
        for text in predictions:
            try:
                preds.append(parse_graph(text))
                problems.append(None)
            except AMRSyntaxError as e:
                preds.append(None)
                problems.append(str(e))
        golds = [parse_graph(text) for text in references]
        report = score_corpus(preds, golds, problems=problems, restarts=restarts, seed=seed,
                              exact=exact, fine=fine)
        result = {"precision": report.precision, "recall": report.recall, "f1": report.f1,
                  "invalid": report.invalid, "f1_ci95": list(report.f1_ci95)}
        if fine:
            result["fine"] = report.fine
        return result
