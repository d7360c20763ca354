"""Ensembles against their best input, honestly: two-fold cross-validation on a dev set.

Given several systems' predictions of the same dev sentences and the dev gold, the
sentences are split into two folds (even and odd positions). Each fold in turn is the
"test": weights and thresholds are tuned on the other fold only (`visempar.combine.ensemble.tune`),
then applied here. Printed per method: corpus Smatch over both folds' outputs together,
the best single input, the per-sentence oracle over the inputs, and the paired bootstrap
against the best input (`visempar compare`'s).

    .venv/bin/python benchmarks/bench_ensemble.py --gold dev.txt A.txt B.txt C.txt D.txt
"""

from __future__ import annotations

import argparse
import time

from visempar.amr.format import format_graph
from visempar.amr.io import read_corpus
from visempar.scoring.compare import paired_bootstrap
from visempar.combine.ensemble import Plan, agreement_weights, combine, read_candidates, tune
from visempar.scoring.files import score_texts


def score(graphs, golds):
    report, _ = score_texts([format_graph(g) for g in graphs], [format_graph(g) for g in golds],
                            gold_graphs=golds, workers=1, bootstrap=0)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", required=True)
    ap.add_argument("systems", nargs="+")
    args = ap.parse_args()
    gold = [e.graph for e in read_corpus(args.gold).examples]
    sentences = read_candidates([args.gold, *args.systems])
    for s in sentences:
        s.graphs = s.graphs[1:]  # the gold led the matching; it is not a system
    n, k = len(sentences), len(args.systems)
    folds = [[i for i in range(n) if i % 2 == f] for f in (0, 1)]
    inputs = [score([s.graphs[j] for s in sentences], gold) for j in range(k)]
    best = max(range(k), key=lambda j: inputs[j].f1)
    print(f"{n} sentences, {k} systems; two folds of {len(folds[0])} and {len(folds[1])}")
    for j, path in enumerate(args.systems):
        print(f"  input {j}: F1 {inputs[j].f1:.4f}  {path}")
    oracle = score([max(s.graphs, key=lambda g: score([g], [gold[i]]).f1) for i, s in enumerate(sentences)], gold)
    print(f"  per-sentence oracle: F1 {oracle.f1:.4f}")
    print(f"{'method':<28} {'F1':>7} {'vs best':>8} {'95% CI':>18} {'p':>6}  plans (fold 0 / fold 1)")
    for method in ("select", "merge"):
        for weighting in ("dev", "agreement", "equal"):
            start = time.perf_counter()
            out = [None] * n
            plans = []
            for f, test in enumerate(folds):
                dev = [sentences[i] for i in folds[1 - f]]
                here = [sentences[i] for i in test]
                if weighting == "dev":
                    plan, _ = tune(method, dev, [gold[i] for i in folds[1 - f]], None)
                elif weighting == "agreement":
                    plan = Plan(agreement_weights(dev))
                else:
                    plan = Plan(tuple([1 / k] * k), source="equal")
                for i, s in zip(test, combine(here, method, plan)):
                    out[i] = s.graph
                plans.append(plan)
            result = score(out, gold)
            vs = paired_bootstrap(result, inputs[best])
            shown = " / ".join(f"w={[round(w, 2) for w in p.weights]} m={p.margin} k={p.keep} a={p.add}"
                               for p in plans)
            print(f"{method + ' (' + weighting + ')':<28} {result.f1:>7.4f} {vs.delta:>+8.4f} "
                  f"{vs.ci[0]:>+8.4f}..{vs.ci[1]:>+7.4f} {vs.p:>6.3f}  {shown}  "
                  f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
