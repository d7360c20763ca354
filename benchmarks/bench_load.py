"""Training steps on a busy CPU: OpenMP's default (spinning) wait against passive waiting.

A SmolLM2-shaped Llama (hidden 576, 4 layers, random weights, no download) takes forward and
backward steps on batches of 8 x 160 tokens in a fresh process with 2 threads, quiet and
then beside a competing process that keeps one core busy. Each setting runs in its own
process, since libgomp reads OMP_WAIT_POLICY once, when torch loads. Prints seconds and
the slowdown under load per setting.

    .venv/bin/python benchmarks/bench_load.py [--steps 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

STEPS = r"""
import sys, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[2]))
model = LlamaForCausalLM(LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                                     num_hidden_layers=4, num_attention_heads=9, num_key_value_heads=3,
                                     tie_word_embeddings=True))
ids = torch.randint(0, 49152, (8, 160))
model(input_ids=ids, labels=ids).loss.backward()  # warm-up
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    model(input_ids=ids, labels=ids).loss.backward()
print(time.perf_counter() - start)
"""


def timed(steps: int, threads: int, policy: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", STEPS, str(steps), str(threads)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    quiet = {p: timed(args.steps, args.threads, p) for p in (None, "PASSIVE")}
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1)
        loaded = {p: timed(args.steps, args.threads, p) for p in (None, "PASSIVE")}
    finally:
        competitor.kill()
        competitor.wait()
    print(f"{args.steps} steps, batch 8 x 160 tokens, {args.threads} threads, one core kept busy by another process")
    print(f"{'OMP_WAIT_POLICY':<16} {'quiet s':>8} {'loaded s':>9} {'slowdown':>9}")
    for p in quiet:
        print(f"{p or 'unset (default)':<16} {quiet[p]:>8.2f} {loaded[p]:>9.2f} {loaded[p] / quiet[p]:>8.2f}x")
    print(f"loaded, default / PASSIVE: {loaded[None] / loaded['PASSIVE']:.2f}x")


if __name__ == "__main__":
    main()
