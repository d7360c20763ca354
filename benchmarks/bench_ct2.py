"""CTranslate2 behind visempar's stop rules, against visempar's own decoding, in one process.

    .venv/bin/visempar export --run RUN --merge MERGED
    PYTHONPATH=<ctranslate2 installed here> .venv/bin/python benchmarks/bench_ct2.py RUN MERGED GOLD \
        [--first 64] [--compute-type float32] [--batch 16]

CTranslate2 is not a dependency; this script measures whether it should be. The run's
merged model (`visempar export --merge`) is converted to CTranslate2's format, and GOLD's
first sentences are decoded twice: by `visempar.infer.predict.predict` (the run's own
settings) and by `ctranslate2.Generator.generate_batch` with visempar's stop rules in its
per-token callback (`visempar.infer.decode.RowWatch`: graph end, loops, spans, the row's
budget), batches of prompts sorted by length as `generate` sorts them. Both outputs go
through the same graphs and passes (`to_graph_result`). Printed: seconds of decoding,
tokens, graphs identical to visempar's, and corpus Smatch F1 of each on GOLD.
"""

import argparse
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("merged")
    ap.add_argument("gold")
    ap.add_argument("--first", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--compute-type", default="float32")
    args = ap.parse_args()

    import ctranslate2
    import torch

    from visempar.amr.io import read_corpus
    from visempar.data.encode import prompt_ids
    from visempar.infer.decode import RowWatch
    from visempar.infer.graphs import to_graph_result
    from visempar.infer.load import load_run
    from visempar.infer.predict import predict
    from visempar.passes import Passes
    from visempar.scoring.smatch import score_pair, summarize
    from bench_batch import canonical

    gold = read_corpus(args.gold).examples[: args.first]
    sentences = [e.sentence or "" for e in gold]
    loaded = load_run(args.run)
    tok, builder, config = loaded.tokenizer, loaded.builder, loaded.config

    def scored(graphs) -> float:
        return summarize([score_pair(g, x.graph, index=i) for i, (g, x) in enumerate(zip(graphs, gold))]).f1

    start = time.perf_counter()
    ours = predict(loaded, sentences, batch_size=args.batch)
    ours_s = time.perf_counter() - start
    ours_graphs = [r.graph for r in ours.results]
    print(f"visempar ({loaded.compute_dtype}, batch {args.batch}): {ours_s:.1f} s, "
          f"{sum(g.tokens for g in ours.generated)} tokens, Smatch F1 {scored(ours_graphs):.4f}", flush=True)
    budget, lexicon = loaded.budget, loaded.lexicon
    del loaded

    out = tempfile.mkdtemp()
    ctranslate2.converters.TransformersConverter(args.merged).convert(out, force=True)
    generator = ctranslate2.Generator(out, device="cpu", compute_type=args.compute_type,
                                      intra_threads=torch.get_num_threads())
    encoded = [prompt_ids(tok, builder, s) for s in sentences]
    limits = [budget.limit(len(tok(s, add_special_tokens=False)["input_ids"])) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: -len(encoded[i]))
    texts, tokens = [""] * len(sentences), 0
    start = time.perf_counter()
    for at in range(0, len(order), args.batch):
        chunk = order[at:at + args.batch]
        watches = {k: RowWatch(builder.variant) for k in range(len(chunk))}
        reasons: dict[int, str] = {}

        def callback(step, chunk=chunk, watches=watches, reasons=reasons) -> bool:
            k = step.batch_id
            if k in reasons:
                return True
            watch = watches[k]
            if step.token_id == tok.eos_token_id:
                reasons[k] = "eos"
                return True
            reason = watch.step(step.token_id, tok.decode([step.token_id], skip_special_tokens=True))
            if reason is None and len(watch.tokens) >= limits[chunk[k]]:
                reason = "limit"
            if reason is not None:
                reasons[k] = reason
                return True
            return False

        generator.generate_batch([tok.convert_ids_to_tokens(encoded[i]) for i in chunk],
                                 max_length=max(limits[i] for i in chunk), sampling_topk=1,
                                 include_prompt_in_result=False, callback=callback)
        for k, i in enumerate(chunk):
            kept = watches[k].result(reasons.get(k, "limit"))
            texts[i] = tok.decode(kept.tokens, skip_special_tokens=True)
            tokens += kept.generated
    ct2_s = time.perf_counter() - start
    passes = Passes.of(config)
    graphs = [to_graph_result(builder, t, config.concepts, s, passes, lexicon).graph for t, s in zip(texts, sentences)]
    same = sum(canonical(a) == canonical(b) for a, b in zip(graphs, ours_graphs))
    print(f"CTranslate2 {ctranslate2.__version__} ({args.compute_type}, batch {args.batch}): {ct2_s:.1f} s, "
          f"{tokens} tokens, same graphs as visempar: {same} of {len(graphs)}, Smatch F1 {scored(graphs):.4f}; "
          f"time against visempar {ct2_s / ours_s:.2f}", flush=True)


if __name__ == "__main__":
    main()
