#!/usr/bin/env bash
# Continue the shipped BitSemCom models (or train them anew) side by side on one CUDA machine,
# within MINUTES in all:
#
#   research/gpu_continue.sh MINUTES OUT [JOB ...]      (default: qpsk 16qam 16qam-wide)
#
# Jobs: qpsk, 16qam (lr 2e-4), 16qam-wide (stages widened), qpsk-anneal, 16qam-anneal (lr 5e-5),
# qpsk-anneal-fp32 (float32, to compare with bf16); qpsk-scratch, 16qam-scratch (the shipped
# architecture from scratch, configs/*_gpu.json: one clean schedule, no restart); qpsk-fast-scratch
# (high-resolution stages 16 and 32 wide: 0.6x the decode time, research/arch_latency.py);
# qpsk-ema, 16qam-ema (constant lr 5e-5 with a weight average, decay 0.999, which validates and ships);
# 16qam-from-qpsk (today's QPSK model, its 32 latent channels widened to 16-QAM's 64, as the shipped
# 16-QAM model was made from the QPSK model of 71000 steps); qpsk-big-batch, 16qam-big-batch (96 crops of
# 256 px a step, lr 1e-4: near the gradient noise scale that research/gradient_noise.py measures at the
# shipped weights, where batches of 16 carry a tenth to a hundredth of a noise-free step).
#
# Each job is scripts/train_on_gpu.sh CONFIG MINUTES OUT/JOB --init-from models/ID --model-id ID
# (no --init-from for scratch jobs; jobs sharing the GPU plan 75 % of their probed steps, a job
# alone 90 %). A job that fails in its first two minutes is tried once more in float32.
# OUT/JOB-run.tar.gz then holds JOB/run (log.csv,
# model.pt; no checkpoints) and OUT/JOB-model.tar.gz JOB/model (ONNX and card): unpacked here,
# research/ship_model.py JOB/run ID compares and ships as for a run made here.
# Data: $SEMCOM_PREPARED (default .cache/prepared); a compact one to carry:
#   python3 scripts/run_from_source.py run prepare --scale 0.5 --val-crop 256 --out .cache/prepared-compact
set -uo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
minutes=$1 out=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
train=${SEMCOM_TRAIN_SCRIPT:-$root/scripts/train_on_gpu.sh}  # tests put a stand-in here
declare -A config=([qpsk]=bitsemcom_qpsk_cpp16_gpu_continue [16qam]=bitsemcom_16qam_cpp16_gpu_continue
                   [16qam-wide]=bitsemcom_16qam_cpp16_gpu_wide [qpsk-anneal]=bitsemcom_qpsk_cpp16_gpu_anneal
                   [qpsk-anneal-fp32]=bitsemcom_qpsk_cpp16_gpu_anneal [16qam-anneal]=bitsemcom_16qam_cpp16_gpu_anneal
                   [qpsk-scratch]=bitsemcom_qpsk_cpp16_gpu [16qam-scratch]=bitsemcom_16qam_cpp16_gpu
                   [qpsk-fast-scratch]=bitsemcom_qpsk_cpp16_gpu_fast [qpsk-ema]=bitsemcom_qpsk_cpp16_gpu_ema
                   [16qam-ema]=bitsemcom_16qam_cpp16_gpu_ema [16qam-from-qpsk]=bitsemcom_16qam_cpp16_gpu_wide
                   [qpsk-big-batch]=bitsemcom_qpsk_cpp16_gpu_big_batch [16qam-big-batch]=bitsemcom_16qam_cpp16_gpu_big_batch)
declare -A model=([qpsk]=bitsemcom-qpsk-cpp16 [16qam]=bitsemcom-16qam-cpp16 [16qam-wide]=bitsemcom-16qam-cpp16
                  [qpsk-anneal]=bitsemcom-qpsk-cpp16 [qpsk-anneal-fp32]=bitsemcom-qpsk-cpp16
                  [16qam-anneal]=bitsemcom-16qam-cpp16 [qpsk-scratch]=bitsemcom-qpsk-cpp16
                  [16qam-scratch]=bitsemcom-16qam-cpp16 [qpsk-fast-scratch]=bitsemcom-qpsk-cpp16
                  [qpsk-ema]=bitsemcom-qpsk-cpp16 [16qam-ema]=bitsemcom-16qam-cpp16
                  [16qam-from-qpsk]=bitsemcom-16qam-cpp16 [qpsk-big-batch]=bitsemcom-qpsk-cpp16
                  [16qam-big-batch]=bitsemcom-16qam-cpp16)
declare -A init=([16qam-from-qpsk]=bitsemcom-qpsk-cpp16)  # else the model the job replaces
declare -A precision=([qpsk-anneal-fp32]=fp32)
declare -A scratch=([qpsk-scratch]=1 [16qam-scratch]=1 [qpsk-fast-scratch]=1)
jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=(qpsk 16qam 16qam-wide)
for j in "${jobs[@]}"; do
    [ -n "${config[$j]:-}" ] || { echo "unknown job '$j'; choose from: ${!config[*]}" >&2; exit 2; }
done
mkdir -p "$out"
t0=$(date +%s)
export PYTHONUNBUFFERED=1

fill=0.75  # the probe runs while the other jobs start: plan less than it says
[ ${#jobs[@]} -gt 1 ] || fill=0.9

# a job's config: research/configs (study variants), else configs (the shipped recipes)
config_path() { local f=$root/research/configs/$1.json; [ -f "$f" ] || f=$root/configs/$1.json; echo "$f"; }

job() {
    local j=$1 dir=$out/$1 start left args
    start=$(date +%s)
    args=(--model-id "${model[$j]}" --fill "$fill")
    [ -n "${scratch[$j]:-}" ] || args+=(--init-from "$root/models/${init[$j]:-${model[$j]}}")
    "$train" "$(config_path "${config[$j]}")" "$minutes" "$dir" "${args[@]}" \
        --precision "${precision[$j]:-auto}" && return 0
    if [ $(( $(date +%s) - start )) -lt 120 ]; then
        left=$(awk -v m="$minutes" -v s="$(( $(date +%s) - t0 ))" 'BEGIN { printf "%.2f", m - s / 60 }')
        echo "$j: failed at start; once more in float32 for $left minutes" >&2
        rm -rf "$dir"
        "$train" "$(config_path "${config[$j]}")" "$left" "$dir" "${args[@]}" \
            --precision fp32 && return 0
    fi
    return 1
}

for j in "${jobs[@]}"; do
    job "$j" > "$out/$j.log" 2>&1 &
done
status=0
for j in "${jobs[@]}"; do
    wait -n || status=1
done
for j in "${jobs[@]}"; do
    tail -n 3 "$out/$j.log" | sed "s/^/$j: /"
    [ -d "$out/$j" ] || continue
    # two archives of at most ~15 MB each; the checkpoints only when the run ended without model.pt
    if [ -f "$out/$j/run/model.pt" ]; then skip=(--exclude='ckpt_*'); else skip=(); fi
    tar -C "$out" -czf "$out/$j-run.tar.gz" "${skip[@]}" "$j/run" "$j/train.log"
    [ -d "$out/$j/model" ] && tar -C "$out" -czf "$out/$j-model.tar.gz" "$j/model"
done
exit $status
