#!/usr/bin/env bash
# Builds (or reuses) the virtual environment and runs the demo on generated videos.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh || exit 1
videolights demo "$@"
