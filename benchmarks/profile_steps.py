"""Where the time of one training step and of one decode goes, per op class (torch.profiler).

    .venv/bin/python benchmarks/profile_steps.py --run RUN --train TRAIN.txt --sentences TEST.txt

- training: `visempar train` of RUN's config on the first blocks of TRAIN, two optimizer
  steps profiled after one of warm-up (the trainer as `train` builds it, callbacks
  included; evaluation and checkpoints off);
- decoding: the first 16 lines of SENTENCES parsed with RUN at batch 16, each row cut at
  `--decode-tokens` new tokens (the profiler's record of a whole decode takes many GB),
  profiled whole: the prefill and every step.

Self CPU time is summed per op class (matmul, attention, copies and layout, norms,
log-softmax and loss, other element-wise, optimizer, the rest). The same script runs
against an earlier version with `PYTHONPATH=<its checkout>`: the APIs it calls
(`train.run.train`, `infer.load.load_run`, `infer.generate.generate`) are those of 0.2.0 too.
"""

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

CLASSES = [  # (class, op names it holds: exact, or a prefix where the name ends in "*")
    ("matmul", ("mm", "addmm", "bmm", "matmul", "linear", "baddbmm", "_linear_pointwise")),
    ("attention", ("_scaled_dot_product*", "scaled_dot_product*", "_softmax*", "softmax*")),
    ("log-softmax and loss", ("log_softmax*", "_log_softmax*", "nll_loss*", "cross_entropy*")),
    ("copies and layout", ("copy_", "to", "_to_copy", "cat", "index_select", "contiguous", "clone", "index",
                           "gather", "stack", "where", "masked_fill", "masked_fill_", "fill_", "zero_", "empty*",
                           "embedding*", "slice_backward", "select_backward")),
    ("norms", ("rms_norm*", "_fused_rms_norm*", "pow", "mean", "rsqrt", "layer_norm*")),
    ("optimizer", ("_foreach*", "addcdiv_", "lerp_", "sqrt")),
    ("element-wise", ("mul", "add", "sub", "div", "silu*", "neg", "exp", "sigmoid", "cos", "sin", "mul_", "add_",
                      "sum", "threshold_backward", "div_")),
]


def op_class(name: str) -> str:
    bare = name.removeprefix("aten::").removeprefix("mkldnn::")
    for label, names in CLASSES:
        if any(bare == n or (n.endswith("*") and bare.startswith(n[:-1])) for n in names):
            return label
    return "the rest"


def shares(prof) -> tuple[float, Counter, Counter]:
    """Seconds of aten (and mkldnn) self time, each class's share, and each op's share."""
    per, ops = Counter(), Counter()
    for event in prof.key_averages():
        if event.key.startswith(("aten::", "mkldnn::")):  # mkldnn: the decoding step's packed matmuls
            per[op_class(event.key)] += event.self_cpu_time_total
            ops[event.key] += event.self_cpu_time_total
    total = sum(per.values())
    return (total / 1e6, Counter({k: v / total for k, v in per.items()}),
            Counter({k: v / total for k, v in ops.items()}))


def show(title: str, measured: tuple[float, Counter, Counter], extra: str) -> None:
    seconds, per, ops = measured
    print(f"\n{title}: {seconds:.2f} s of aten self time; {extra}")
    for label, share in per.most_common():
        top = [f"{k.removeprefix('aten::')} {v:.1%}" for k, v in ops.most_common() if op_class(k) == label][:3]
        print(f"  {label:<22} {share:6.1%}   ({', '.join(top)})")


def profile_training(run: Path, train: Path) -> None:
    import torch
    from transformers import TrainerCallback

    from visempar.config import load_config
    from visempar.train.run import train as train_run

    out = tempfile.mkdtemp()
    config = load_config(run / "config.yaml", {
        "train_data": str(train), "eval_data": None, "output_dir": f"{out}/run", "max_steps": 3,
        "eval_steps": 0, "save_steps": 10_000, "logging_steps": 1})
    prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    seen = {"tokens": 0, "seconds": 0.0}

    class Profile(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1:
                self.tokens, self.start = state.num_input_tokens_seen, time.perf_counter()
                prof.start()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                prof.stop()
                seen["seconds"] = time.perf_counter() - self.start
                seen["tokens"] = state.num_input_tokens_seen - self.tokens

    train_run(config, log=lambda *_: None, callbacks=[Profile()])
    rate = f"{seen['tokens'] / seen['seconds']:.1f} tok/s under the profiler" if seen["tokens"] else ""
    show("training, optimizer steps 2-3", shares(prof), rate)


def profile_decoding(run: Path, sentences: Path, tokens: int) -> None:
    import torch

    from visempar.infer.generate import generate
    from visempar.infer.load import load_run

    loaded = load_run(run)
    lines = [x.strip() for x in sentences.read_text(encoding="utf-8").splitlines() if x.strip()][:16]
    generate(loaded.model, loaded.tokenizer, loaded.builder, lines[:2], batch_size=2,
             budget=loaded.budget, compute_dtype=loaded.compute_dtype)  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        done = generate(loaded.model, loaded.tokenizer, loaded.builder, lines, batch_size=16,
                        budget=tokens, compute_dtype=loaded.compute_dtype)
        wall = time.perf_counter() - start
    steps = max(g.tokens for g in done)
    show("decoding, 16 sentences at batch 16", shares(prof),
         f"{wall:.1f} s wall under the profiler, {sum(g.tokens for g in done)} tokens, "
         f"longest row {steps} steps, {1000 * wall / steps:.1f} ms a step with the prefill")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, type=Path)
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--sentences", required=True, type=Path)
    ap.add_argument("--only", choices=["training", "decoding"])
    ap.add_argument("--decode-tokens", type=int, default=40)
    args = ap.parse_args()
    import torch

    from visempar.config import load_config
    from visempar.model.device import set_threads

    set_threads(load_config(args.run / "config.yaml").cpu_threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.only != "decoding":
        profile_training(args.run, args.train)
    if args.only != "training":
        profile_decoding(args.run, args.sentences, args.decode_tokens)


if __name__ == "__main__":
    main()
