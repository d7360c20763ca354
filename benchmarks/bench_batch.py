"""How much the batch a sentence is decoded in changes its graph, and the score.

    .venv/bin/python benchmarks/bench_batch.py RUN GOLD [--first 64] [--batches 1,16,32]

In bf16, a row's logits depend in their last bits on the other rows of its batch (left
padding changes the matmul blocking), so greedy decoding can take another token at a
near tie. For each batch size, GOLD's first sentences are parsed with RUN (`predict`, the
run's passes on); the model's own forward (`--hf`, LlamaStep off) is run at the run's
batch size too. Printed per setting: seconds, the graphs identical (up to variable
names) to batch 1's, and corpus Smatch F1 on GOLD.
"""

import argparse
import time


def canonical(graph) -> str:
    """The graph as a tree with sorted children and concepts for variables: equal for two
    graphs that differ only in variable names and child order."""
    import penman

    concept = {v: c for v, _, c in graph.instances()}

    def walk(node) -> str:
        var, branches = node
        parts = sorted(role + (walk(t) if isinstance(t, tuple) else "=" + str(concept.get(t, t)))
                       for role, t in branches if role != ":instance")
        return f"({concept.get(var)} {' '.join(parts)})"

    return walk(penman.configure(graph).node)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("gold")
    ap.add_argument("--first", type=int, default=64)
    ap.add_argument("--batches", default="1,16,32")
    ap.add_argument("--hf", action="store_true", help="Also decode through the model's own forward.")
    args = ap.parse_args()

    from visempar.amr.io import read_corpus
    from visempar.infer import llama_step
    from visempar.infer.load import load_run
    from visempar.infer.predict import predict
    from visempar.scoring.smatch import score_pair, summarize

    gold = read_corpus(args.gold).examples[: args.first]
    loaded = load_run(args.run)
    sentences = [e.sentence or "" for e in gold]
    settings = [(f"batch {b}", int(b), True) for b in args.batches.split(",")]
    if args.hf:
        settings.append((f"batch {loaded.config.generation_batch_size}, model's forward",
                         loaded.config.generation_batch_size, False))
    reference = None
    fits = llama_step.fits
    for label, batch, own_step in settings:
        llama_step.fits = fits if own_step else (lambda model: False)
        start = time.perf_counter()
        made = predict(loaded, sentences, batch_size=batch)
        seconds = time.perf_counter() - start
        graphs = [canonical(r.graph) for r in made.results]
        reference = reference or graphs
        same = sum(a == b for a, b in zip(graphs, reference))
        report = summarize([score_pair(r.graph, g.graph, index=i) for i, (r, g) in enumerate(zip(made.results, gold))])
        print(f"{label:<32} {seconds:6.1f} s  same graphs as the first setting: {same:3d} of {len(graphs)}  "
              f"Smatch F1 {report.f1:.4f}", flush=True)
    llama_step.fits = fits


if __name__ == "__main__":
    main()
