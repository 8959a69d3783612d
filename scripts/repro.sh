#!/usr/bin/env bash
# Set up (if needed), run the whole DVC pipeline on the data set params.yaml names
# (by default the embedded generated one), and print the per-stem scores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
dvc repro "$@"
python -m midi_extractor.evaluate.report metrics
