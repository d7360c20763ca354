"""Mutation scores per module from mutmut's results (`mutants/**/*.meta`).

Score = killed / (killed + survived + timeout... ) over the mutants that were checked;
"not checked" mutants (outside this run's selection, or on lines no test runs) are
counted apart. Run by scripts/mutation.sh; prints a Markdown table.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    metas = sorted((ROOT / "mutants").rglob("*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run scripts/mutation.sh first", file=sys.stderr)
        return 1
    print("| module | mutants | checked | killed | survived | timeout/other | score |")
    print("|---|---|---|---|---|---|---|")
    survivors = []
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        status = Counter(status_by_exit_code[c] for c in codes.values())
        checked = sum(n for s, n in status.items() if s != "not checked")
        if not checked:
            continue
        killed = status["killed"] + status["caught by type check"]
        other = checked - killed - status["survived"]
        module = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        print(f"| `{module}` | {len(codes)} | {checked} | {killed} | {status['survived']} | {other} | "
              f"{killed / checked:.0%} |")
        survivors += [k for k, c in codes.items() if status_by_exit_code[c] == "survived"]
    if survivors:
        print("\nsurvivors (`.venv/bin/mutmut show NAME` prints the change):")
        for name in survivors:
            print(f"- {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
