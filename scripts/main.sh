#!/usr/bin/env bash
# The main job on the embedded default. Extra arguments go to the command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh 2>&1 | grep -v "^WARNING: Location" || true
exec .venv/bin/instructrl run "$@"
