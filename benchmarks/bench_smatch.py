"""`visempar evaluate` against the reference `smatch.py -f` on 150 pairs, as whole processes.

Pairs come from ../shared/vlsp2025 when present (graphs of public-test size: 8+ nodes),
else from the bundled sample. Both commands read the same two files; they run in
alternation (paired, so machine noise hits both alike) and the median wall times and
their ratio are printed, with the F1 each reports. In-process figures for `--exact` and
the fine components follow. Run: .venv/bin/python benchmarks/bench_smatch.py [--runs N]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from visempar.amr import read_corpus, write_corpus
from visempar.scoring.files import score_files

ROOT = Path(__file__).resolve().parents[1]
REAL = [ROOT.parent / "shared" / "vlsp2025" / f"train_amr_{k}.txt" for k in (1, 2)]
BIN = Path(sys.executable).parent


def pair_files(tmp: Path, n: int) -> str:
    if REAL[0].exists():
        pool = [e for path in REAL for e in read_corpus(path) if len(e.graph.instances()) >= 8]
        source = "../shared/vlsp2025 training files (graphs of 8+ nodes)"
    else:
        pool = read_corpus(ROOT / "visempar/data/sample/train.txt").examples
        source = "visempar/data/sample/train.txt"
    gold = [pool[i % len(pool)] for i in range(n)]
    pred = [type(g)(g.sentence, pool[(i + n // 2 + 1) % len(pool)].graph)  # another graph, same snt
            for i, g in enumerate(gold)]
    write_corpus(tmp / "gold.txt", gold)
    write_corpus(tmp / "pred.txt", pred)
    return f"{len(gold)} pairs from {source}"


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--pairs", type=int, default=150)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print(pair_files(tmp, args.pairs))
    pred, gold = str(tmp / "pred.txt"), str(tmp / "gold.txt")
    ours_cmd = [str(BIN / "visempar"), "evaluate", "--predictions", pred, "--gold", gold]
    ref_cmd = [sys.executable, "-m", "smatch", "--significant", "4", "-f", pred, gold]
    timed(ours_cmd), timed(ref_cmd)  # warm the file cache and the bytecode
    ours, ref, ratios = [], [], []
    for _ in range(args.runs):
        (a, ours_out), (b, ref_out) = timed(ours_cmd), timed(ref_cmd)
        ours.append(a), ref.append(b), ratios.append(a / b)
    f1 = next(line for line in ours_out.splitlines() if line.startswith("F1") or "F1" in line)
    print(f"visempar evaluate      median {statistics.median(ours):.3f} s   {f1.strip()}")
    print(f"smatch.py -f           median {statistics.median(ref):.3f} s   {ref_out.strip()}")
    print(f"ratio (paired median)  {statistics.median(ratios):.2f}x   "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {args.runs} runs)")
    for label, kwargs in (("in process, --exact", {"exact": True}),
                          ("in process, --metric fine", {"fine": True})):
        start = time.perf_counter()
        report, _ = score_files(pred, gold, **kwargs)
        print(f"{label:<26} {time.perf_counter() - start:7.3f} s   F1 {report.f1:.4f}")


if __name__ == "__main__":
    main()
