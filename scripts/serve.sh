#!/usr/bin/env bash
# Set up Quartier and start it on the embedded SQLite backend (extra options are passed on,
# e.g. scripts/serve.sh --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/quartier serve "$@"
