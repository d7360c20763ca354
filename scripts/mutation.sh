#!/usr/bin/env bash
# Mutation testing of the guards with mutmut, outside CI (hours for every module on 2 cores).
#   bash scripts/mutation.sh                         # every module of [tool.mutmut] only_mutate
#   bash scripts/mutation.sh "visempar.train.schedule*" "visempar.preflight.config_checks*"
# Prints the score per module (scripts/mutation_report.py) and the surviving mutants.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pip install -q -c constraints.txt mutmut==3.8.1
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export VISEMPAR_SHARED=${VISEMPAR_SHARED:-$PWD/../shared}  # the real files, for tests run from mutants/
export VISEMPAR_TEST_CACHE=${VISEMPAR_TEST_CACHE:-$PWD/mutants-cache}  # the tiny model, built once
.venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "$@" || true
exec .venv/bin/python scripts/mutation_report.py
