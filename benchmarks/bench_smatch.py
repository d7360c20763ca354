"""Score 150 challenge-size pairs with visempar and with the `smatch` command line.

Pairs come from ../shared/vlsp2025 when present (graphs of public-test size: 8+ nodes),
else from the bundled sample. Both scorers read the same two files; wall time of each is
printed, with the F1 each reports, and the cost of the fine-grained components. Run: .venv/bin/python benchmarks/bench_smatch.py
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from visempar.amr import read_corpus, write_corpus
from visempar.eval.files import score_files

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "vlsp2025" / "train_amr_1.txt"


def main(n: int = 150) -> None:
    if REAL.exists():
        examples = [e for e in read_corpus(REAL) if len(e.graph.instances()) >= 8][: 2 * n]
        source = f"{REAL} (graphs of 8+ nodes)"
    else:
        examples = (read_corpus(ROOT / "data/sample/train.txt").examples * 2)[: 2 * n]
        source = "data/sample/train.txt"
    gold, pred = examples[:n], examples[n: 2 * n]
    pred = [type(p)(g.sentence, p.graph) for p, g in zip(pred, gold)]  # other graph, same snt
    tmp = Path(tempfile.mkdtemp())
    write_corpus(tmp / "gold.txt", gold)
    write_corpus(tmp / "pred.txt", pred)
    print(f"{n} pairs from {source}")
    for label, kwargs in (("visempar (reference search)", {}),
                          ("visempar --exact", {"exact": True}),
                          ("visempar --metric fine", {"fine": True})):
        t = time.perf_counter()
        report, _ = score_files(tmp / "pred.txt", tmp / "gold.txt", **kwargs)
        print(f"{label:<30} {time.perf_counter() - t:7.3f} s   F1 {report.f1:.4f}")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "smatch", "--significant", "4", "-f", str(tmp / "pred.txt"),
                          str(tmp / "gold.txt")], capture_output=True, text=True, check=True)
    print(f"{'smatch command line':<30} {time.perf_counter() - t:7.3f} s   "
          f"{out.stdout.strip()}")


if __name__ == "__main__":
    main()
