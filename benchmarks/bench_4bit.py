"""Peak memory and training speed of a real model with an fp32, a bf16-autocast and a
4-bit NF4 base, one process per configuration, on batches of the real corpus's lengths.

Each configuration is a `visempar train` process (preflight skipped, no evaluation, no
checkpoint) of N steps on DATA; peak RSS comes from the OS (`ru_maxrss` of the child),
tokens/s from the run's own count over its training time. Why it matters: a laptop user
with a 1-3B GGUF file may only fit its base in 4 bits.

    .venv/bin/python benchmarks/bench_4bit.py --data runs/vlsp-split/train.txt [--model smollm2] [--steps 6]
"""

import argparse

from train_process import print_rows, train_process

CONFIGS = {
    "fp32": ["--set", "compute_dtype=float32", "--set", "load_in_4bit=false"],
    "bf16 autocast": ["--set", "compute_dtype=bfloat16", "--set", "load_in_4bit=false"],
    "4-bit NF4, bf16 compute": ["--set", "compute_dtype=bfloat16", "--set", "load_in_4bit=true"],
}


def run(name: str, args, extra: list[str]) -> dict:
    return train_process(name, args.steps, ["--model", args.model, "--data", args.data, "--set",
                                            "group_by_length=false", "--batch-size", str(args.batch), *extra])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    rows = [run(name, args, extra) for name, extra in CONFIGS.items()]
    print(f"{args.model}, {args.steps} steps of batch {args.batch} from {args.data}, one process each")
    print_rows(rows)

if __name__ == "__main__":
    main()
