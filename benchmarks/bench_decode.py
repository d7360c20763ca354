"""Generation before and after the stopping rules, on the same trained run, in one process.

Before: `model.generate` to EOS or a fixed `--max-new-tokens` (visempar's generation until
issue 17). After: rows stop where the graph ends or loops, leave the batch when done, and
have a budget fitted on the training data (`visempar.infer.decode`). Both outputs go
through the same repair and the same scorer against the gold graphs.

    .venv/bin/python benchmarks/bench_decode.py RUN_DIR --data DEV.txt [--max-new-tokens 512]
"""

import argparse
import time


def run(loaded, sentences, golds, gold_texts, stopping: bool, budget) -> dict:
    from visempar.amr.format import format_graph
    from visempar.scoring.files import score_texts
    from visempar.infer.generate import generate, generation_counts
    from visempar.infer.graphs import to_graph_result
    from visempar.model.device import compute_dtype

    start = time.perf_counter()
    out = generate(loaded.model, loaded.tokenizer, loaded.builder, sentences, budget=budget,
                   stopping=stopping, batch_size=loaded.config.generation_batch_size,
                   compute_dtype=compute_dtype(loaded.config.compute_dtype))
    seconds = time.perf_counter() - start
    parsed = [to_graph_result(loaded.builder, g.text, loaded.config.concepts) for g in out]
    report, _ = score_texts([format_graph(p.graph) for p in parsed], gold_texts, gold_graphs=golds,
                            fine=True, bootstrap=0)
    counts = generation_counts(out)
    at_limit = counts["stopped_by"].get("limit", 0)
    return {"seconds": round(seconds, 1), "tokens": counts["tokens_generated"], "stopped_by": counts["stopped_by"],
            "at_limit": at_limit, "smatch": report.f1, "precision": report.precision, "recall": report.recall,
            "predicted_triples": report.predicted_triples, "named_entities_f1": report.fine["named_entities"]["f1"],
            "needed_repair": sum(p.path in ("repaired", "empty") for p in parsed)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--data", required=True, help="gold file (a dev split, never a test)")
    ap.add_argument("--max-new-tokens", type=int, default=512, help="the fixed limit of 'before'")
    ap.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    args = ap.parse_args()
    from visempar.amr import read_corpus
    from visempar.infer.budget import TokenBudget
    from visempar.infer.load import load_run

    loaded = load_run(args.run)
    examples = read_corpus(args.data).examples[:args.limit or None]
    sentences = [e.sentence or "" for e in examples]
    golds, texts = [e.graph for e in examples], [e.text for e in examples]
    before = run(loaded, sentences, golds, texts, False, TokenBudget(args.max_new_tokens))
    after = run(loaded, sentences, golds, texts, True, loaded.budget)
    print(f"{len(sentences)} sentences of {args.data}, run {args.run} ({loaded.config.variant}), "
          f"batch {loaded.config.generation_batch_size}")
    print(f"{'':<8}{'seconds':>9}{'tokens':>9}{'at limit':>10}{'Smatch':>8}{'P':>8}{'R':>8}{'triples':>9}{'NE F1':>7}  stopped by")
    for name, r in (("before", before), ("after", after)):
        print(f"{name:<8}{r['seconds']:>9}{r['tokens']:>9}{r['at_limit']:>10}{r['smatch']:>8.4f}{r['precision']:>8.4f}"
              f"{r['recall']:>8.4f}{r['predicted_triples']:>9}{r['named_entities_f1']:>7.3f}  {r['stopped_by']}")
    print(f"time ratio after/before: {after['seconds'] / before['seconds']:.2f}; "
          f"tokens ratio: {after['tokens'] / max(1, before['tokens']):.2f}")


if __name__ == "__main__":
    main()
