"""One `visempar train` process for a benchmark: its own peak RSS and its throughput.

Preflight skipped, no evaluation, no checkpoint, a log line per step; peak RSS comes from
the OS (`ru_maxrss` of this child, not a running max), tokens/s from the run's own count
over its training time.
"""

import json
import os
import subprocess
import sys
import tempfile


def train_process(name: str, steps: int, args: list[str]) -> dict:
    out = tempfile.mkdtemp(prefix="bench-train-")
    cmd = [sys.executable, "-m", "visempar.cli", "train", "--output-dir", f"{out}/run", "--max-steps", str(steps),
           "--skip-preflight", "--set", "eval_steps=0", "--set", "save_steps=100000", "--set", "logging_steps=1",
           *args]
    with open(f"{out}/log.txt", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TQDM_DISABLE": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{name} failed:\n{open(f'{out}/log.txt').read()[-3000:]}")
    summary = json.loads(open(f"{out}/run/summary.json").read())
    return {"config": name, "peak_rss_gib": usage.ru_maxrss / 2**20, "tokens": summary["tokens_seen"],
            "seconds": summary["train_seconds"],
            "tokens_per_second": summary["tokens_seen"] / summary["train_seconds"],
            "loss": (summary["first_loss"], summary["last_loss"])}


def print_rows(rows: list[dict]) -> None:
    """One line per configuration; the ratio is tokens/s against the first row."""
    width = max(len("configuration"), *(len(r["config"]) for r in rows)) + 2
    print(f"{'configuration':<{width}}{'peak RSS GiB':>13}{'tokens/s':>10}{'ratio':>7}{'seconds':>9}  loss first -> last")
    for r in rows:
        print(f"{r['config']:<{width}}{r['peak_rss_gib']:>13.2f}{r['tokens_per_second']:>10.1f}"
              f"{r['tokens_per_second'] / rows[0]['tokens_per_second']:>7.2f}{r['seconds']:>9.1f}  "
              f"{r['loss'][0]:.4f} -> {r['loss'][1]:.4f}")
