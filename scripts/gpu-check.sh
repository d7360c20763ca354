#!/usr/bin/env bash
# Prove the CUDA path on a GPU machine in one command: tiny model built there, preflight,
# a short 4-bit NF4 + bf16 `visempar train` for both variants, predict and evaluate, with
# assertions read off the built objects; JSON report (default gpu-report.json).
#   bash scripts/gpu-check.sh [--out FILE] [--steps N]
# A machine with no package index needs the pinned wheels in .whl/ (ignored by git):
# run `python3 scripts/gpu_wheels.py download` where pip works, then carry .whl along.
# Exit 2 (and nothing installed) where there is no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 2)' 2>/dev/null; then
  if [[ " $* " != *" --allow-cpu "* ]]; then
    echo "gpu-check: no CUDA device (torch.cuda.is_available() is False for $PY): this check" \
         "proves the 4-bit + bf16 path and needs a GPU" >&2
    exit 2
  fi
fi
if compgen -G ".whl/*.whl" >/dev/null; then
  site=$("$PY" scripts/gpu_wheels.py install .whl "${VISEMPAR_SITE:-/tmp/visempar-site}")
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1
export VISEMPAR_CACHE=${VISEMPAR_CACHE:-$(mktemp -d)}
exec "$PY" -m visempar.gpu_check "$@"
