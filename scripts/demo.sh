#!/usr/bin/env bash
# Set up Quartier and start it with the demo town Lindbrück on the embedded SQLite backend:
# the town is created, 30 days of history are backfilled, then it lives in real time.
# Options are passed on, e.g. scripts/demo.sh --speed 60 --port 9000 --days 7
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/quartier demo "$@"
