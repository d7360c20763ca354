#!/usr/bin/env bash
# Set up .venv if needed and run the main job on the embedded default (the bundled sample).
# Corpus checks, scoring and repair, then preflight + train + evaluate for both variants.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
V=.venv/bin/visempar
out=runs/demo
mkdir -p "$out"

echo "== validate the bundled sample corpus"
$V data validate --json "$out/validate.json"
echo "== statistics"
$V data stats --json "$out/stats.json"
echo "== deterministic train/dev split, refusing overlap with the test sentences"
$V data split visempar/data/sample/train.txt --dev-fraction 0.1 --seed 0 --out "$out/split" \
  --test visempar/data/sample/test.txt --json "$out/split.json"
echo "== repair a damaged copy of the test graphs (truncated, chatty, misspelled)"
.venv/bin/python - "$out" <<'PY'
import sys
from pathlib import Path
blocks = Path("visempar/data/sample/test.txt").read_text(encoding="utf-8").strip().split("\n\n")
damaged = []
for i, block in enumerate(blocks):
    snt, graph = block.split("\n", 1)
    if i % 5 == 1:
        graph = graph[: len(graph) // 2]               # truncated output
    elif i % 5 == 2:
        graph = "Here is the graph:\n" + graph + " Done."  # text around the graph
    elif i % 5 == 3:
        graph = graph.replace(" ", "_").replace("_/_", " / ")  # concepts joined with _
    damaged.append(snt + "\n" + graph)
Path(sys.argv[1], "damaged.txt").write_text("\n\n".join(damaged) + "\n", encoding="utf-8")
PY
echo "-- scored as they are (invalid graphs count as empty):"
$V evaluate --metric smatch --predictions "$out/damaged.txt" --gold visempar/data/sample/test.txt \
  --json "$out/score-damaged.json"
$V repair "$out/damaged.txt" "$out/repaired.txt" --json "$out/repair.json"
echo "-- after repair:"
$V evaluate --metric smatch --predictions "$out/repaired.txt" --gold visempar/data/sample/test.txt \
  --json "$out/score-repaired.json"
for variant in baseline mtup; do
  echo "== train $variant on the tiny model (preflight first; the model is built once, ~1 min)"
  $V train --variant "$variant" --output-dir "$out/tiny-$variant" --overwrite
  echo "== parse and score the sample test split with the $variant run"
  $V evaluate --metric fine --run "$out/tiny-$variant" --json "$out/score-$variant.json"
done
echo "== reports in $out/"
