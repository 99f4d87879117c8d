#!/usr/bin/env bash
# Builds (or reuses) the virtual environment, checks the layer contracts and runs the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh || exit 1
export VIDEOLIGHTS_DATA="${VIDEOLIGHTS_DATA:-$(cd .. && pwd)/shared/data}"
[ -d "$VIDEOLIGHTS_DATA" ] || { echo "note: $VIDEOLIGHTS_DATA not found; tests that need the shared data will skip"; unset VIDEOLIGHTS_DATA; }
lint-imports --config pyproject.toml || exit 1
python -m pytest "$@"
