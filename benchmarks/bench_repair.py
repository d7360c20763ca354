"""Repair real model output: validity, kept triples, restored references, time.

Reads ../shared/real-outputs (the winning VLSP 2025 system's 1200 raw private-test outputs,
written without variables, and its submitted file). For the raw file: graphs valid after
repair, bare references restored, graphs with a re-entrancy, and wall time, against the
same system's own restore step (its submitted file). For the submitted file (readable by
the reference): the fraction of the reference's triples that repair keeps.
Run: .venv/bin/python benchmarks/bench_repair.py
"""

import sys
import time
from collections import Counter
from pathlib import Path

from visempar.amr import format_graph, parse_graph
from visempar.amr.io import iter_blocks, read_text
from visempar.amr.lenient import as_read_from_file
from visempar.amr.repair import repair
from visempar.scoring.account import account
from visempar.scoring.triples import reference_triples

OUTPUTS = Path(__file__).resolve().parents[2] / "shared" / "real-outputs"


def reentrant(graph) -> bool:
    return max(Counter(e.target for e in graph.edges()).values(), default=0) > 1


def main() -> None:
    if not (OUTPUTS / "winner_private_raw.txt").exists():
        sys.exit(f"{OUTPUTS} is absent: nothing to measure")
    raw = list(iter_blocks(read_text(OUTPUTS / "winner_private_raw.txt")))
    submitted = list(iter_blocks(read_text(OUTPUTS / "winner_private_submitted.txt")))
    t0 = time.perf_counter()
    results = [repair(b.graph_text) for b in raw]
    elapsed = time.perf_counter() - t0
    valid = sum(reference_triples(format_graph(r.graph, "oneline")) is not None for r in results)
    theirs = [parse_graph(b.graph_text) for b in submitted]
    print(f"raw outputs: {len(raw)}; the reference reads "
          f"{sum(reference_triples(as_read_from_file(b.graph_text)) is not None for b in raw)}")
    print(f"after repair: {valid}/{len(results)} valid; {elapsed:.2f} s "
          f"({len(results) / elapsed:.0f} graphs/s)")
    print(f"bare references restored: {sum(r.restored for r in results)} in "
          f"{sum(r.restored > 0 for r in results)} graphs")
    print(f"graphs with a re-entrancy: visempar {sum(reentrant(r.graph) for r in results)}, "
          f"the system's own restore {sum(reentrant(g) for g in theirs)}")
    print(f"triples: visempar {sum(len(r.graph.triples) + 1 for r in results)}, "
          f"the system's own restore {sum(len(g.triples) + 1 for g in theirs)}")
    print("changes (graphs):", dict(Counter(k for r in results for k in r.kinds).most_common()))
    t0 = time.perf_counter()
    kept = total = 0
    for b in submitted:
        survived = account(as_read_from_file(b.graph_text), format_graph(repair(b.graph_text).graph, "oneline"))
        kept, total = kept + survived.kept, total + survived.total
    print(f"submitted file: repair keeps {kept}/{total} of the reference's triples "
          f"({kept / total:.2%}); {time.perf_counter() - t0:.1f} s with the alignments")


if __name__ == "__main__":
    main()
