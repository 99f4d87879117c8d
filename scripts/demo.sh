#!/usr/bin/env bash
# Builds (or reuses) the virtual environment and runs the demo: a generated dataset with planted
# moments through the whole DAG (decode, extract, synthesize, pretrain, finetune, evaluate) on the
# CPU with tiny presets. Extra arguments go to `videolights run`, e.g. `--refresh finetune`.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh || exit 1
videolights run configs/demo.yaml "$@"
