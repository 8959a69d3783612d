#!/usr/bin/env bash
# The GPU figures of README and RESULTS, measured in one run of at most 5 minutes on a GPU machine
# (issue 21). Prints, for the GPU-size model (harmonic-large) at the seed's batch (64 x 20 s, bf16):
#   1. the step alone, eager and under torch.compile: clips/s, compile time, peak memory, GFLOP per
#      step, achieved TFLOPS and the share of the chip's dense bf16 peak (PEAK_TFLOPS, default 989);
#   2. `midi-extractor train` end to end on a prepared set: clips/s from its summary, the GPU's busy
#      share (nvidia-smi utilization.gpu sampled every 0.2 s while it runs) and the loader workers;
#   3. the same for `paper` (the old GPU size) eagerly, for the before/after row.
# The prepared set: data/prepared as `python scripts/gpu_data.py unpack` leaves it (a device run
# carries .gpu; see scripts/gpu_bases.sh), else a sine set built here (no FluidSynth needed).
# On the device tool:  run(command="bash benchmarks/bench_gpu.sh", carry=[".gpu"], timeout_s=420)
# Locally without a GPU: DEV=cpu STEPS=2 BATCH=2 CLIP=2 bash benchmarks/bench_gpu.sh  (a dry run of the
# script's plumbing; its figures mean nothing).
set -u
OUT=${OUT:-$(mktemp -d)}; DEV=${DEV:-cuda}; PEAK_TFLOPS=${PEAK_TFLOPS:-989}
STEPS=${STEPS:-20}; BATCH=${BATCH:-64}; CLIP=${CLIP:-20}; WORKERS=${WORKERS:-7}; TRAIN_STEPS=${TRAIN_STEPS:-60}
export MIDI_EXTRACTOR_TRACKING=0 PYTHONUNBUFFERED=1
if [ -d .gpu/whl ] && [ -z "${SKIP_SETUP:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
  [ -d .gpu/prepared ] && python3 scripts/gpu_data.py unpack > /dev/null
fi
PY=${PY:-python3}
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "cores $(nproc); $($PY -c 'import torch; print("torch", torch.__version__)')"

step() {  # size compile -> one JSON line of the step figure
  timeout 150 $PY benchmarks/bench_training.py --device $DEV --size $1 --batch-size $BATCH --clip-seconds $CLIP \
    --steps $STEPS --warmup 3 --skip-train --compile $2 --peak-tflops $PEAK_TFLOPS --json $OUT/step-$1-$2.json \
    > /dev/null 2> $OUT/step-$1-$2.log || echo "{\"size\": \"$1\", \"compile\": \"$2\", \"failed\": true}"
  [ -f $OUT/step-$1-$2.json ] && $PY -c "import json,sys; d=json.load(open(sys.argv[1])); s=d['step']; \
print(json.dumps({'size': d['size'], 'batch': d['batch_size'], 'clip_s': d['clip_seconds'], **s}))" $OUT/step-$1-$2.json
}
echo "== step (in-memory batch, forward + backward + AdamW)"
step harmonic-large off
step harmonic-large on
step paper off

echo "== end to end: midi-extractor train, $WORKERS workers, $TRAIN_STEPS steps"
if [ ! -f data/prepared/piano/index.json ]; then
  $PY - <<EOF
import sys; sys.path.insert(0, "tests")
from pathlib import Path
from helpers_training import write_sine_set
write_sine_set(Path("$OUT/sines"), n_tracks=24, seconds=30.0, sr=16000)
EOF
  $PY stages/prepare.py --params params.yaml --index $OUT/sines/filtered_dataset_bass.json --out $OUT/prepared/bass \
    --jobs $(nproc) || exit 1
  INDEX=$OUT/prepared/bass/index.json; STEM=bass
else
  INDEX=data/prepared/piano/index.json; STEM=piano
fi
$PY -c "import yaml; p = yaml.safe_load(open('params.yaml')); p['model']['size'] = 'harmonic-large'; \
yaml.safe_dump(p, open('$OUT/params.yaml', 'w'), sort_keys=False)"
SAMPLER=""
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 > $OUT/util.txt &
  SAMPLER=$!
fi
timeout 150 $PY -m midi_extractor train $INDEX --stem $STEM --out-dir $OUT/model --params $OUT/params.yaml --device $DEV \
  --batch-size $BATCH --clip-seconds $CLIP --epochs 1 --steps-per-epoch $TRAIN_STEPS --val-interval 1000000 \
  --num-workers $WORKERS --no-progress > $OUT/train.log 2>&1
echo "train rc $?"
[ -n "$SAMPLER" ] && kill $SAMPLER
$PY - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
s = json.loads((out / "model" / "summary.json").read_text()) if (out / "model" / "summary.json").is_file() else {}
util = [float(x) for x in (out / "util.txt").read_text().split()] if (out / "util.txt").is_file() else []
busy = sum(u > 0 for u in util) / len(util) if util else None
print(json.dumps({"clips_per_s": s.get("throughput_clips_per_s"), "steps": s.get("steps"),
                  "compiled": s.get("compiled"), "first_step_s": s.get("first_step_s"),
                  "gpu_busy_share": busy, "gpu_util_mean_pct": sum(util) / len(util) if util else None,
                  "device": s.get("device_name")}))
EOF
grep -E "Error|error" $OUT/train.log | tail -3
