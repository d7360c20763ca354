"""Where the training peak goes: peak RSS and tokens/s of the real-corpus recipe on its
longest batches, with the full-logits loss or TRL's chunked (fused) LM-head loss, and with
activation checkpointing off or on.

Each configuration is a `visempar train` process of the recipe's config (preflight
skipped, no evaluation, no checkpoint) on the LONGEST examples of DATA, so every batch is
as long as the recipe's longest; peak RSS comes from the OS (`ru_maxrss` of the child),
tokens/s from the run's own count over its training time. The first row is the recipe as
it is; each ratio is against it.

    .venv/bin/python benchmarks/bench_memory.py --data runs/vlsp-split/train.txt [--steps 3]
"""

import argparse
import tempfile
from pathlib import Path

from train_process import print_rows, train_process

CONFIGS = {
    "recipe (full logits, no checkpointing)": [],
    "chunked LM-head loss": ["--set", "loss_head=fused"],
    "activation checkpointing": ["--set", "activation_checkpointing=true"],
    "both": ["--set", "loss_head=fused", "--set", "activation_checkpointing=true"],
}


def longest(data: str, n: int, out: Path) -> Path:
    from visempar.amr import read_corpus, write_corpus

    examples = sorted(read_corpus(data).examples, key=lambda e: -len(e.text or ""))[:n]
    write_corpus(out, examples)
    return out


def run(name: str, args, data: Path, extra: list[str]) -> dict:
    return train_process(name, args.steps, ["--config", args.config, "--data", str(data), *extra])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="smollm2-vlsp")
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8, help="the recipe's batch size")
    args = ap.parse_args()
    data = longest(args.data, args.steps * args.batch, Path(tempfile.mkdtemp()) / "longest.txt")
    rows = [run(name, args, data, extra) for name, extra in CONFIGS.items()]
    print(f"{args.config}: {args.steps} steps of the {args.steps * args.batch} longest examples of {args.data}")
    print_rows(rows)

if __name__ == "__main__":
    main()
