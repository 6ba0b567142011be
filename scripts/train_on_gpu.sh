#!/usr/bin/env bash
# Train a learned codec on a machine that has only a copy of this repository: python3 with torch,
# numpy (1 or 2), onnx and Pillow; no GNU Radio, no network, onnxruntime optional.
#
#   scripts/train_on_gpu.sh CONFIG MINUTES OUT     e.g. configs/bitsemcom_qpsk_cpp16_gpu.json 11 out/qpsk
#
# The whole job (start-up, training, export) takes at most MINUTES minutes: the config's recipe is
# scaled to the steps that fit, with CUDA and bf16 when there is a GPU (the CPU works too, for tests).
# Data: the prepared folder .cache/prepared travelling with the repository; make it beforehand on a
# machine with the photo cache (semcom-data fetch):
#   python3 scripts/run_from_source.py run prepare --scale 0.5 --out .cache/prepared
# OUT gets run/ (log.csv, checkpoints, model.pt), model/ (encoder.onnx, decoder.onnx, card.json), train.log.
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
config=$1 minutes=$2 out=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
prepared=${SEMCOM_PREPARED:-$root/.cache/prepared}
if [ ! -f "$prepared/index.json" ]; then
    echo "no prepared data in $prepared; make it with: $python scripts/run_from_source.py run prepare --scale 0.5 --out .cache/prepared" >&2
    exit 2
fi
mkdir -p "$out"
# a hard stop 30 s after the budget, whatever happens inside
limit=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 30 }')
timeout --kill-after=10 "$limit" "$python" "$root/scripts/run_from_source.py" run train "$config" \
    --minutes "$minutes" --out "$out" --prepared "$prepared" "$@" 2>&1 | tee "$out/train.log"
exit "${PIPESTATUS[0]}"
