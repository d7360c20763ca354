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
