"""kill -9 at seeded random moments, then `--resume` until the run ends: does it end with
the adapter of an uninterrupted run?

Each trial starts `visempar train` (preflight included) on the tiny model as a real
process, SIGKILLs it at a moment drawn from a seeded generator over the length of a whole
run (so kills land in preflight, in a step, in a checkpoint write, in an evaluation or in
the final save), once or several times in a row, then runs `--resume` until it exits 0,
and compares every adapter tensor with the uninterrupted run's.

    python benchmarks/bench_kill.py [--trials 20] [--kills 3] [--model PATH]

Prints one line per trial and `survived N of M`. `tests/test_kill.py` runs two trials.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = ["max_steps=6", "save_steps=2", "eval_steps=2", "per_device_train_batch_size=4",
            "lora_r=4", "lora_alpha=8", "lora_dropout=0.0", "learning_rate=2e-3", "warmup=0.1",
            "max_length=384", "compute_dtype=float32", "cpu_threads=1", "stall_check_steps=0",
            "max_new_tokens=48"]


def command(model: str, out: Path, resume: bool) -> list[str]:
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return [sys.executable, "-m", "visempar", "train", "--config", "tiny-baseline", "--model", model,
            "--output-dir", str(out), *sets, *(["--resume"] if resume else [])]


def environment() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1"}


def straight_run(model: str, out: Path) -> float:
    """An uninterrupted run; its wall time."""
    start = time.perf_counter()
    subprocess.run(command(model, out, False), env=environment(), check=True, capture_output=True,
                   timeout=1200)
    return time.perf_counter() - start


def adapter(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run / "adapter" / "adapter_model.safetensors"))


def trial(model: str, out: Path, seed: int, kills: int, duration: float, reference: dict) -> tuple[bool, int, str]:
    """Kill a run `kills` times at seeded moments, resume to the end, compare the adapter;
    (equal, kills delivered (a process may end before its moment), what happened)."""
    import torch

    rng = random.Random(seed)
    moments = []
    for k in range(kills):
        moment = rng.uniform(0.0, duration)
        proc = subprocess.Popen(command(model, out, resume=k > 0), env=environment(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=moment)
            moments.append(f"{moment:.1f}s (ended first)")
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            moments.append(f"{moment:.1f}s")
    delivered = sum(not m.endswith("(ended first)") for m in moments)
    for _ in range(3):
        done = subprocess.run(command(model, out, resume=True), env=environment(), capture_output=True,
                              text=True, timeout=1200)
        if done.returncode == 0:
            break
    else:
        return False, delivered, f"kills at {moments}: --resume failed: {done.stderr.strip().splitlines()[-1:]}"
    ours = adapter(out)
    for key, want in reference.items():
        if key not in ours or not torch.allclose(ours[key], want, rtol=1e-5, atol=1e-6):
            return False, delivered, f"kills at {moments}: adapter tensor {key} differs from the uninterrupted run's"
    return True, delivered, f"kills at {moments}: equal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kills", type=int, default=3, help="at most this many kills in a row per trial")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="visempar-kill-"))
    duration = straight_run(args.model, root / "straight")
    reference = adapter(root / "straight")
    print(f"uninterrupted run: {duration:.1f} s")
    survived = delivered = 0
    for t in range(args.trials):
        seed = args.seed * 1000 + t
        kills = 1 + random.Random(seed).randrange(args.kills)
        ok, killed, detail = trial(args.model, root / f"trial-{t}", seed, kills, duration, reference)
        survived, delivered = survived + ok, delivered + killed
        print(f"trial {t} (seed {seed}, {kills} kill(s)): {'survived' if ok else 'FAILED'}: {detail}", flush=True)
    print(f"survived {survived} of {args.trials} trials ({delivered} kills delivered)")


if __name__ == "__main__":
    main()
