#!/usr/bin/env bash
# The test suite. Installs what it needs (project venv; Debian chromium for browser tests when root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh 2>&1 | grep -v "^WARNING: Location" || true
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "note: could not install chromium; browser tests will be skipped"
fi
export TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
