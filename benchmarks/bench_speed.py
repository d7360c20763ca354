"""Training and decoding speed of this checkout against an earlier commit, side by side in
one run, each as a share of what the machine can do.

    .venv/bin/python benchmarks/bench_speed.py --run RUN --train TRAIN.txt --sentences TEST.txt \
        [--gold DEV.txt] [--old c58f766] [--repeat 2]

- the machine: the bf16 matmul peak (a 2048 x 2048 matmul) and the copy bandwidth (a
  256 MB copy), measured first, in this process;
- training: `visempar train` of the README's CPU config on the first 96 blocks of TRAIN
  for one epoch (preflight and evaluation off), one process per version, alternating
  (old, new, old, new...); wall time of the process and tokens/s over its training time,
  with the FLOP/s that makes (6 x parameters x tokens/s, plus 2 x for the recomputation of
  activation checkpointing) against the matmul peak;
- decoding: the first 48 lines of SENTENCES parsed with RUN (`benchmarks/decode_driver.py`,
  alternating the same way); wall time of `visempar predict` as a whole process, and the
  driver's decode seconds per forward pass (ms/step) and sentences/s, with the weight bytes
  a step reads against the copy bandwidth;
- with GOLD (a dev split the run never trained on): its first 48 sentences parsed by both
  versions, whether the graphs are the same, and each version's Smatch.

The earlier commit is checked out into a temporary work tree (`git worktree`), removed at
the end; both versions run in this checkout's virtual environment. Nothing else may run on
the machine meanwhile: every figure is a wall time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    import torch

    a = torch.randn(2048, 2048, dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    start, n = time.perf_counter(), 20
    for _ in range(n):
        a @ a
    peak = 2 * 2048 ** 3 * n / (time.perf_counter() - start)
    x = torch.empty(64 * 2 ** 20, dtype=torch.float32)  # 256 MB
    y = torch.empty_like(x)
    y.copy_(x)
    start = time.perf_counter()
    for _ in range(5):
        y.copy_(x)
    copy = 2 * x.numel() * 4 * 5 / (time.perf_counter() - start)  # bytes read and written per second
    return {"threads": torch.get_num_threads(), "bf16_matmul_tflops": peak / 1e12, "copy_gb_s": copy / 1e9}


def env_for(tree: Path | None) -> dict:
    env = {**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def train_once(tree: Path | None, data: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-speed-train-"))
    cmd = [sys.executable, "-m", "visempar.cli", "train", "--config", "smollm2-vlsp-varfree", "--data", str(data),
           "--eval-data", str(data), "--epochs", "1", "--output-dir", str(out / "run"), "--skip-preflight",
           "--set", "eval_steps=0", "--set", "save_steps=100000", "--set", "logging_steps=1"]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env_for(tree), capture_output=True, text=True, cwd=tree or ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "run" / "summary.json").read_text())
    records = [json.loads(x) for x in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    return {"wall_s": wall, "train_s": summary["train_seconds"], "tokens": summary["tokens_seen"],
            "losses": [r["loss"] for r in records if "loss" in r]}


def decode_once(tree: Path | None, run: Path, sentences: Path, out: Path) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "decode_driver.py"), str(run), str(sentences),
                           str(out)], env=env_for(tree), capture_output=True, text=True, cwd=tree or ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"decoding failed:\n{done.stderr[-3000:]}")
    return {"wall_s": wall, **json.loads(done.stdout.strip().splitlines()[-1])}


def head(path: Path, n: int, out: Path, blocks: bool) -> Path:
    if blocks:
        from visempar.amr.io import read_blocks, submission_block, write_blocks

        write_blocks(out, [submission_block(b.sentence or "", b.graph_text) for b in read_blocks(path)[:n]])
    else:
        out.write_text("".join(line for line in path.read_text(encoding="utf-8").splitlines(True)[:n]),
                       encoding="utf-8")
    return out


def best(rows: list[dict], key: str) -> float:
    return min(r[key] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, type=Path, help="a trained run of smollm2-vlsp-varfree")
    ap.add_argument("--train", required=True, type=Path, help="real training blocks")
    ap.add_argument("--sentences", required=True, type=Path, help="test sentences, one per line")
    ap.add_argument("--gold", type=Path, help="a dev split the run did not train on")
    ap.add_argument("--old", default="c58f766", help="the earlier commit")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    for name in ("run", "train", "sentences", "gold"):  # the versions run in their own folders
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).resolve())
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    tree = work / "old"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.old], check=True,
                   capture_output=True)
    try:
        report = {"machine": machine(), "old": args.old}
        print(f"machine: {report['machine']['threads']} threads, bf16 matmul "
              f"{report['machine']['bf16_matmul_tflops']:.3f} TFLOP/s, copy {report['machine']['copy_gb_s']:.1f} GB/s",
              flush=True)
        data = head(args.train, 96, work / "train96.txt", blocks=True)
        sentences = head(args.sentences, 48, work / "sentences48.txt", blocks=False)
        train = {"old": [], "new": []}
        decode = {"old": [], "new": []}
        for _ in range(args.repeat):
            for side, t in (("old", tree), ("new", None)):
                train[side].append(train_once(t, data))
                print(f"train {side}: {train[side][-1]['wall_s']:.1f} s wall, "
                      f"{train[side][-1]['tokens'] / train[side][-1]['train_s']:.1f} tok/s", flush=True)
            for side, t in (("old", tree), ("new", None)):
                decode[side].append(decode_once(t, args.run, sentences, work / f"{side}.txt"))
                d = decode[side][-1]
                print(f"decode {side}: {d['wall_s']:.1f} s wall, {1000 * d['decode_seconds'] / d['forwards']:.1f} "
                      f"ms/step, {d['sentences'] / d['decode_seconds']:.2f} sentences/s", flush=True)
        report.update(summarize(report["machine"], train, decode))
        if args.gold:
            report["gold"] = compare_on_gold(args, tree, work)
        print(json.dumps(report, indent=2))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def summarize(m: dict, train: dict, decode: dict) -> dict:
    params = 134.5e6  # SmolLM2-135M
    out = {}
    for side in ("old", "new"):
        tok_s = max(r["tokens"] / r["train_s"] for r in train[side])
        flops = 8 * params * tok_s  # forward, backward, and the checkpointed forward again
        step = min(r["decode_seconds"] / r["forwards"] for r in decode[side])
        out[side] = {"train_wall_s": best(train[side], "wall_s"), "train_tokens_per_s": round(tok_s, 1),
                     "train_share_of_matmul_peak": round(flops / 1e12 / m["bf16_matmul_tflops"], 3),
                     "predict_wall_s": best(decode[side], "wall_s"), "decode_ms_per_step": round(1000 * step, 1),
                     "sentences_per_s": round(max(r["sentences"] / r["decode_seconds"] for r in decode[side]), 2),
                     "decode_share_of_copy_bandwidth": round(params * 2 / step / 1e9 / (m["copy_gb_s"] / 2), 3),
                     "losses": train[side][0]["losses"]}
    out["ratios"] = {"train_wall_new_over_old": round(out["new"]["train_wall_s"] / out["old"]["train_wall_s"], 3),
                     "predict_wall_new_over_old": round(out["new"]["predict_wall_s"] / out["old"]["predict_wall_s"], 3),
                     "decode_step_new_over_old": round(out["new"]["decode_ms_per_step"] / out["old"]["decode_ms_per_step"], 3)}
    print(f"train wall new/old {out['ratios']['train_wall_new_over_old']}, predict wall new/old "
          f"{out['ratios']['predict_wall_new_over_old']}, decode step new/old {out['ratios']['decode_step_new_over_old']}")
    return out


def compare_on_gold(args, tree: Path, work: Path) -> dict:
    from visempar.amr.io import read_blocks, read_corpus
    from visempar.scoring.files import score_files

    gold = head(args.gold, 48, work / "gold48.txt", blocks=True)
    sentences = work / "gold48-sentences.txt"
    sentences.write_text("".join((b.sentence or "") + "\n" for b in read_blocks(gold)), encoding="utf-8")
    result = {}
    for side, t in (("old", tree), ("new", None)):
        decode_once(t, args.run, sentences, work / f"gold-{side}.txt")
        report, _ = score_files(work / f"gold-{side}.txt", gold)
        result[side] = report.f1
    from bench_batch import canonical

    old_graphs, new_graphs = (read_corpus(work / f"gold-{side}.txt").examples for side in ("old", "new"))
    result["same_graphs"] = sum(canonical(a.graph) == canonical(b.graph) for a, b in zip(old_graphs, new_graphs))
    print(f"gold ({len(read_blocks(gold))} dev sentences): Smatch old {result['old']:.4f}, new {result['new']:.4f}, "
          f"graphs identical up to variable names {result['same_graphs']}", flush=True)
    return result


if __name__ == "__main__":
    main()
