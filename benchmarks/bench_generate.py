"""Batched generation against one sentence at a time, same run, same sentences, one process.

    .venv/bin/python benchmarks/bench_generate.py RUN_DIR [--batch 16]
"""

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from visempar.amr import read_corpus
    from visempar.data.corpus import sample_path
    from visempar.infer.generate import generate
    from visempar.infer.load import load_run

    loaded = load_run(args.run)
    sentences = [e.sentence for e in read_corpus(sample_path("test")).examples]
    sentences += [e.sentence for e in read_corpus(sample_path("dev")).examples]
    kw = dict(budget=loaded.budget)
    generate(loaded.model, loaded.tokenizer, loaded.builder, sentences[:2], batch_size=2, **kw)  # warm
    start = time.perf_counter()
    single = generate(loaded.model, loaded.tokenizer, loaded.builder, sentences, batch_size=1, **kw)
    one_s = time.perf_counter() - start
    start = time.perf_counter()
    batched = generate(loaded.model, loaded.tokenizer, loaded.builder, sentences, batch_size=args.batch, **kw)
    batch_s = time.perf_counter() - start
    same = sum(a.text == b.text for a, b in zip(single, batched))
    print(f"{len(sentences)} sentences, {loaded.config.variant}, greedy, budget {loaded.budget.to_dict()}")
    print(f"one at a time : {one_s:.2f} s -> {len(sentences) / one_s:.1f} sentences/s")
    print(f"batch {args.batch:<8}: {batch_s:.2f} s -> {len(sentences) / batch_s:.1f} sentences/s")
    print(f"speed-up: {one_s / batch_s:.2f}x; identical outputs: {same}/{len(sentences)}")


if __name__ == "__main__":
    main()
