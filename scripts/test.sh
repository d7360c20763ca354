#!/usr/bin/env bash
# Set up .venv if needed, lint and type-check, and run the test suite (CPU only, one
# thread, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
# style first, in seconds: lint (pyproject [tool.ruff]) and the public API's types ([tool.mypy])
.venv/bin/ruff check visempar tests benchmarks scripts
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
