#!/usr/bin/env bash
# One device run (the `device` tool; carry .gpu): train both shared bases (params.yaml pretrain.*) on the GPU,
# then time the models. Before: `python scripts/gpu_data.py pack` (data/prepared -> .gpu/prepared, Vorbis, 32 MB) and
# the wheels in .gpu/whl (the device README). How the bases of 2026-12-04 were made (bases/percussive_gpu16k.pt,
# the 16-kHz kit base before the 32-kHz one of 2026-12-05 (README, "The bases"), and
# bases/pitched_gpu.pt, where the shipped pitched base's chain starts: bases/pitched_cpu1.pt, bases/pitched_cpu2.pt, bases/pitched_cpu3.pt, then params.yaml pretrain.pitched; its
# settings are now CPU-sized, so pass PARAMS with a larger batch_size and num_workers for a GPU run). This script
# does not pass --songs-dir: the base's 200 songs (data/pretrain/pitched: 975 MB of int16 audio, 3.5 times the
# 281 MB of data/prepared, which packs to 32 MB as Vorbis) exceed what a
# device run carries (64 MiB), and the device has no FluidSynth to write them, so a run here trains on the stems'
# data alone.
# BASES (default: pitched percussive) / BENCH=0 / PARAMS / T_PITCHED / T_PERC / SKIP_SETUP: for one base,
# no timing, a local dry run.
set -u
PARAMS=${PARAMS:-params.yaml}; T_PITCHED=${T_PITCHED:-330}; T_PERC=${T_PERC:-120}
export MIDI_EXTRACTOR_TRACKING=0 PYTHONUNBUFFERED=1
if [ -z "${SKIP_SETUP:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  nproc
  t0=$(date +%s); python3 scripts/gpu_data.py unpack || exit 1; echo "unpack $(( $(date +%s) - t0 )) s"
fi
PY=${PY:-python3}
for base in ${BASES:-pitched percussive}; do
  T=$T_PITCHED; [ $base = percussive ] && T=$T_PERC
  t0=$(date +%s)
  timeout $T $PY stages/pretrain.py --params $PARAMS --base $base --prepared-dir data/prepared \
    --out-dir models/_base/$base --export $OUT/$base.pt --summary-out $OUT/$base.json > $OUT/$base.log 2>&1
  echo "pretrain $base rc $? in $(( $(date +%s) - t0 )) s"
  if [ ! -f $OUT/$base.pt ] && [ -f models/_base/$base/best.pt ]; then
    $PY -c "from midi_extractor.model.checkpoint import export_weights as e; e('models/_base/$base/best.pt', '$OUT/$base.pt')"
    echo "exported best.pt of the stopped run"
  fi
  cat models/_base/$base/history.csv >> $OUT/$base.log
  grep -E "step|done|Error|error" $OUT/$base.log | tail -8
done
[ "${BENCH:-1}" = 0 ] && exit 0
{
for spec in "harmonic-large 64 20" "harmonic 64 20" "harmonic 16 4" "paper 64 20"; do
  set -- $spec
  timeout 25 $PY benchmarks/bench_training.py --device ${DEV:-cuda} --size $1 --batch-size $2 --clip-seconds $3 --skip-train --steps 10 --warmup 3 2>&1 | tail -12
done
} > $OUT/bench.log 2>&1
cat $OUT/bench.log | grep -E "clips_per_s|s_per_step|size|peak" 
