"""Corpus-level Smatch of the VLSP 2025 challenge as a Hugging Face `evaluate` metric.

Load it offline with `evaluate.load("<path>/visempar/scoring/metric/vlsp_smatch.py")`.
Predictions and references are PENMAN strings in the VLSP dialect, scored by the function
behind `visempar evaluate` (`visempar.scoring.files.score_texts`), so the figures are the
same: what the reference scorer reads is scored as it reads it (`read_leniently` lists the
predictions visempar's strict reader refuses), only what it cannot read counts as an empty
graph (`invalid`). With `fine=True` the result also holds the fine-grained components.
"""

import datasets
import evaluate

from visempar.scoring.files import score_texts


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

    def _compute(self, predictions, references, restarts=4, seed=0, exact=False, fine=False,
                 normalize_concepts=False):
        report, extra = score_texts(predictions, references, restarts=restarts, seed=seed,
                                    exact=exact, fine=fine, normalize=normalize_concepts)
        result = {"precision": report.precision, "recall": report.recall, "f1": report.f1,
                  "invalid": report.invalid, "read_leniently": len(extra["read_leniently"]),
                  "f1_ci95": list(report.f1_ci95)}
        if fine:
            result["fine"] = report.fine
        return result
