#!/usr/bin/env bash
# The shared bases scored as the stems' models are (evaluate: thresholds chosen on the stem's
# validation split, test split in and out of domain), so RESULTS can set base beside fine-tune.
#   bash benchmarks/eval_bases.sh [OUT_DIR]     (default benchmarks/base_metrics; after dvc repro)
set -euo pipefail
OUT=${1:-benchmarks/base_metrics}
mkdir -p "$OUT"
export MIDI_EXTRACTOR_TRACKING=0
for stem in bass piano guitar strings_ensemble synth_lead synth_pad_fx other drums high_percs; do
  base=$(python -c "from midi_extractor.config import load_params; print(load_params('params.yaml').stems['$stem'].base)")
  python -m midi_extractor evaluate --stem "$stem" --index "data/index/filtered_dataset_$stem.json" \
    --model "bases/$base.pt" --out "$OUT/$stem.json" --tracks-out "$OUT/${stem}_tracks.csv" \
    --max-plots 0 --summary "bases/$base.json" --decoding-out "$OUT/${stem}_decoding.json" > "$OUT/$stem.log" 2>&1 \
    || { echo "$stem: evaluate failed, see $OUT/$stem.log"; continue; }
  python -c "import json,sys; m=json.load(open('$OUT/$stem.json')); print('$stem', 'base $base', 'ood onset F1', m['out_of_domain']['onset_f1'], 'in-domain', m['in_domain']['onset_f1'])"
done
