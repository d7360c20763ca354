"""Decode sentences with a run, counting the model's forward passes: one process of
`bench_speed.py`, run with the visempar on its PYTHONPATH (this checkout's, or an older
commit's), so both versions are measured by the same code.

    python benchmarks/decode_driver.py RUN SENTENCES OUT.txt
prints one JSON line: load seconds, decode seconds, forward passes, tokens, sentences.
"""

import json
import sys
import time


def main() -> None:
    run, sentences_path, out = sys.argv[1:4]
    start = time.perf_counter()
    from visempar.infer.load import load_run
    from visempar.infer.predict import predict, write_submission

    loaded = load_run(run)
    loaded_at = time.perf_counter()
    forwards = [0]
    model = loaded.model
    inner = model.forward

    def counting(*args, **kwargs):
        forwards[0] += 1
        return inner(*args, **kwargs)

    model.forward = counting
    try:  # a version whose decoding steps skip the model's forward counts them too
        from visempar.infer import llama_step

        own = llama_step.LlamaStep.step

        def counted(self, *args, **kwargs):
            forwards[0] += 1
            return own(self, *args, **kwargs)

        llama_step.LlamaStep.step = counted
    except ImportError:
        pass
    sentences = [line.rstrip("\n") for line in open(sentences_path, encoding="utf-8")]
    decode_start = time.perf_counter()
    preds = predict(loaded, sentences)
    decoded_at = time.perf_counter()
    write_submission(out, preds)
    tokens = sum(g.tokens for g in preds.generated)
    print(json.dumps({"load_seconds": round(loaded_at - start, 2), "decode_seconds": round(decoded_at - decode_start, 2),
                      "forwards": forwards[0], "tokens": tokens, "sentences": len(sentences),
                      "batch": loaded.config.generation_batch_size}))


if __name__ == "__main__":
    main()
