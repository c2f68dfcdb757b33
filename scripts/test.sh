#!/usr/bin/env bash
# Set up everything the tests need, then run the linters and the whole test suite on both
# backends. With CI=true a PostgreSQL test that cannot run is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest "$@"
